package archive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/chatnight/chatnight/ingest/lines"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// Record is one record of an archive file: a line, an element of a JSON array, a CSV
// row. Err says the record, or part of it, could not be used; Posts holds what could.
type Record struct {
	Line  int // 1-based line the record starts on
	Raw   []byte
	Posts []*post.Post
	// Deletions are posts the record says were deleted at their source.
	Deletions []steward.Deletion
	Err       error
}

// RecordReader reads the records of one file. Next returns io.EOF after the last
// record; any other error means the rest of the file cannot be read.
type RecordReader interface {
	Next() (Record, error)
}

// Parser turns one JSON record into posts without community. It may return posts
// together with an error when only part of the record was usable.
type Parser func(raw []byte, src post.Source) ([]*post.Post, error)

// MaxRecordBytes bounds one record (an X v2 page line is a few hundred KB).
const MaxRecordBytes = 64 << 20

// JSONRecords reads JSON records in either layout archives use: JSON Lines (one record
// per line; a line holding an array gives one record per element, as when each line is
// a saved API page of statuses), or a file that is one JSON array (or several in a
// row). Each record goes through parse with src.
func JSONRecords(r io.Reader, parse Parser, src post.Source) RecordReader {
	return &jsonRecords{br: bufio.NewReaderSize(r, 256<<10), parse: parse, src: src}
}

type jsonRecords struct {
	br    *bufio.Reader
	parse Parser
	src   post.Source

	started bool
	line    int // lines consumed so far (lines mode)

	queue []Record // elements of an array line not yet returned

	// array mode
	dec     *json.Decoder
	lines   *lineIndex
	inArray bool
}

func (j *jsonRecords) Next() (Record, error) {
	if !j.started {
		j.started = true
		if err := j.start(); err != nil {
			return Record{}, err
		}
	}
	if j.dec != nil {
		return j.nextElement()
	}
	for {
		if len(j.queue) > 0 {
			r := j.queue[0]
			j.queue = j.queue[1:]
			return r, nil
		}
		line, err := lines.Read(j.br, MaxRecordBytes)
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			return Record{}, err
		}
		j.line++
		if errors.Is(err, lines.ErrTooLong) {
			return Record{Line: j.line, Raw: line, Err: fmt.Errorf("record longer than %d bytes", MaxRecordBytes)}, nil
		}
		if err != nil && err != io.EOF {
			return Record{}, err
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 {
			continue
		}
		if trimmed[0] == '[' {
			var items []json.RawMessage
			if uerr := json.Unmarshal(trimmed, &items); uerr == nil {
				for _, it := range items {
					j.queue = append(j.queue, j.record(j.line, it))
				}
				continue
			}
		}
		return j.record(j.line, trimmed), nil
	}
}

func (j *jsonRecords) record(line int, raw []byte) Record {
	raw = append([]byte(nil), raw...)
	posts, err := j.parse(raw, j.src)
	return Record{Line: line, Raw: raw, Posts: posts, Err: err}
}

// start skips a byte order mark and leading space and picks the layout: a file whose
// first line is a whole JSON value is JSON Lines (a line may hold an array); one that
// opens an array it does not close on that line is read as a JSON array.
func (j *jsonRecords) start() error {
	if bom, _ := j.br.Peek(3); bytes.Equal(bom, []byte("\xEF\xBB\xBF")) {
		j.br.Discard(3)
	}
	var offset int64
	for {
		b, err := j.br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil // empty file
			}
			return err
		}
		if b[0] != ' ' && b[0] != '\t' && b[0] != '\r' && b[0] != '\n' {
			break
		}
		if b[0] == '\n' {
			j.line++
		}
		j.br.Discard(1)
		offset++
	}
	if b, _ := j.br.Peek(1); b[0] != '[' {
		return nil
	}
	first, whole, err := peekLine(j.br, MaxRecordBytes)
	if err != nil && err != io.EOF {
		return err
	}
	rest := io.MultiReader(bytes.NewReader(first), j.br)
	if whole && json.Valid(bytes.TrimSpace(first)) {
		j.br = bufio.NewReaderSize(rest, 256<<10)
		return nil
	}
	j.lines = &lineIndex{r: rest, pos: offset, start: offset, base: j.line}
	j.dec = json.NewDecoder(j.lines)
	return nil
}

// peekLine consumes the next line, "\n" included, or limit bytes of it. whole says
// the line ended within limit (or at the end of input).
func peekLine(br *bufio.Reader, limit int) (data []byte, whole bool, err error) {
	for len(data) < limit {
		chunk, err := br.ReadSlice('\n')
		data = append(data, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return data, true, err
	}
	return data, false, nil
}

// nextElement returns the next element of a top-level JSON array.
func (j *jsonRecords) nextElement() (Record, error) {
	for {
		if !j.inArray {
			tok, err := j.dec.Token()
			if err == io.EOF {
				return Record{}, io.EOF
			}
			if err != nil {
				return Record{}, j.broken(err)
			}
			if tok != json.Delim('[') {
				return Record{}, j.broken(fmt.Errorf("want a JSON array, found %v", tok))
			}
			j.inArray = true
			continue
		}
		if !j.dec.More() {
			if _, err := j.dec.Token(); err != nil { // the closing ']'
				return Record{}, j.broken(err)
			}
			j.inArray = false
			continue
		}
		var raw json.RawMessage
		if err := j.dec.Decode(&raw); err != nil {
			return Record{}, j.broken(err)
		}
		start := j.dec.InputOffset() - int64(len(raw))
		return j.record(j.lines.lineAt(start), raw), nil
	}
}

func (j *jsonRecords) broken(err error) error {
	at := j.dec.InputOffset()
	// The broken value starts after the spaces the decoder has not consumed.
	head := make([]byte, 4096)
	n, _ := io.ReadFull(j.dec.Buffered(), head)
	at += int64(len(head[:n]) - len(bytes.TrimLeft(head[:n], " \t\r\n,")))
	return fmt.Errorf("JSON array broken near line %d: %w; nothing after it can be read", j.lines.lineAt(at), err)
}

// lineIndex passes bytes through and remembers where the newlines are, so that a
// decoder offset can be turned into a line number.
type lineIndex struct {
	r     io.Reader
	start int64   // file offset of decoder offset 0
	pos   int64   // file offset of the next byte read
	base  int     // newlines before the first remembered one
	nl    []int64 // file offsets of newlines not yet forgotten, ascending
}

func (l *lineIndex) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.nl = append(l.nl, l.pos+int64(i))
		}
	}
	l.pos += int64(n)
	return n, err
}

// lineAt returns the 1-based line of decoder offset off. Offsets must not go back:
// newlines before off are forgotten.
func (l *lineIndex) lineAt(off int64) int {
	abs := l.start + off
	k := sort.Search(len(l.nl), func(i int) bool { return l.nl[i] >= abs })
	l.base += k
	l.nl = l.nl[k:]
	return l.base + 1
}
