package archive

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/chatnight/chatnight/pipeline/post"
)

// sniffRecords is how many leading records Sniff tries each format on.
const sniffRecords = 20

// Fit is how well a format reads the first records of a file.
type Fit struct {
	Format string
	Usable int // records that gave posts without an error
	Tried  int
}

// Sniff tries every format on the first records of head (the start of a file) and
// returns the fits, best first. A format that cannot open head at all fits with 0.
func Sniff(head []byte) []Fit {
	var fits []Fit
	for name, f := range Formats() {
		fits = append(fits, fitOf(name, f, head))
	}
	sort.Slice(fits, func(i, j int) bool {
		if fits[i].Usable != fits[j].Usable {
			return fits[i].Usable > fits[j].Usable
		}
		return fits[i].Format < fits[j].Format
	})
	return fits
}

func fitOf(name string, f Format, head []byte) Fit {
	fit := Fit{Format: name}
	defer func() {
		// A parser meeting a cut-off head must not take the import down.
		if recover() != nil {
			fit.Usable = 0
		}
	}()
	rr, err := f.Open(bytes.NewReader(head), post.SourceImport)
	if err != nil {
		return fit
	}
	for fit.Tried < sniffRecords {
		rec, err := rr.Next()
		if err != nil {
			break
		}
		fit.Tried++
		if rec.Err == nil && len(rec.Posts) > 0 {
			fit.Usable++
		}
	}
	return fit
}

// wrongFormat explains that format does not read the file and names the one that
// seems to, from fits (Sniff's answer on the head of the file).
func wrongFormat(path, format string, fits []Fit, read, invalid int) error {
	msg := fmt.Sprintf("%s does not look like %s", path, format)
	if read > 0 {
		msg += fmt.Sprintf(": %d of %d records invalid", invalid, read)
	}
	if len(fits) > 0 && fits[0].Format != format && fits[0].Usable > 0 {
		return fmt.Errorf("%s; it looks like %s (%d of the first %d records read as posts): run again with --format %s",
			msg, fits[0].Format, fits[0].Usable, fits[0].Tried, fits[0].Format)
	}
	return fmt.Errorf("%s, nor like any other format (%s); check the file", msg, formatList())
}

// headOf peeks at up to n bytes of br without consuming them.
func headOf(br interface{ Peek(int) ([]byte, error) }, n int) []byte {
	b, err := br.Peek(n)
	if err != nil && err != io.EOF && len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
