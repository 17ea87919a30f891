package archive

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/chatnight/chatnight/ingest/tagscsv"
	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Format is a kind of archive file `chatnight import --format` reads.
type Format struct {
	Name string
	Doc  string
	// Open starts reading a file; an error means the file is not in this format.
	Open func(r io.Reader, src post.Source) (RecordReader, error)
	// Index, for a format whose records refer to each other (Mastodon replies name
	// their parent by an id only the file can resolve), reads the whole file once
	// first and returns the Open for the second reading. Both readings stream: only
	// the index is held, not the file.
	Index func(r io.Reader) (func(r io.Reader, src post.Source) (RecordReader, error), error)
}

// JSONFormat is a format of JSON records (JSON Lines or arrays) read by parse.
func JSONFormat(name, doc string, parse Parser) Format {
	return Format{Name: name, Doc: doc, Open: func(r io.Reader, src post.Source) (RecordReader, error) {
		return JSONRecords(r, parse, src), nil
	}}
}

// Formats lists the formats import knows, by name.
func Formats() map[string]Format {
	fs := map[string]Format{}
	for _, f := range []Format{
		JSONFormat("x-v2", "X API v2 JSON Lines (twarc2 search pages, filtered-stream captures, bare tweets)", xapi.ParseV2),
		JSONFormat("x-v1", "X API v1.1 tweet JSON, one per line or in arrays (twarc1, v1.1 stream captures)", xapi.ParseV1),
		{Name: "tags-csv", Doc: "TAGS Google Sheet CSV export", Open: openTAGS},
		{Name: "x-compliance", Doc: "X compliance results (JSON Lines with id and action) or tweet ids, one per line: the tweets are deleted", Open: openCompliance},
	} {
		fs[f.Name] = f
	}
	for _, f := range socialFormats() {
		fs[f.Name] = f
	}
	return fs
}

// FormatNames lists the format names, sorted, for help texts.
func FormatNames() []string {
	var names []string
	for n := range Formats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func formatList() string { return strings.Join(FormatNames(), ", ") }

// LookupFormat finds a format by name.
func LookupFormat(name string) (Format, error) {
	f, ok := Formats()[name]
	if !ok {
		return Format{}, fmt.Errorf("unknown archive format %q: use one of %s", name, formatList())
	}
	return f, nil
}

func openTAGS(r io.Reader, src post.Source) (RecordReader, error) {
	rd, err := tagscsv.NewReader(r, src)
	if err != nil {
		return nil, err
	}
	return tagsRecords{rd}, nil
}

type tagsRecords struct{ rd *tagscsv.Reader }

func (t tagsRecords) Next() (Record, error) {
	row, err := t.rd.Next()
	if err != nil {
		return Record{}, err
	}
	rec := Record{Line: row.Line, Raw: row.Raw, Err: row.Err}
	if row.Post != nil {
		rec.Posts = []*post.Post{row.Post}
	}
	return rec, nil
}

// openCompliance reads an X compliance file: every record is a deletion.
func openCompliance(r io.Reader, src post.Source) (RecordReader, error) {
	none := func([]byte, post.Source) ([]*post.Post, error) { return nil, nil }
	return complianceRecords{JSONRecords(r, none, src), time.Now()}, nil
}

type complianceRecords struct {
	RecordReader
	now time.Time
}

func (c complianceRecords) Next() (Record, error) {
	rec, err := c.RecordReader.Next()
	if err != nil || rec.Err != nil {
		return rec, err
	}
	d, ok, perr := xapi.ParseCompliance(rec.Raw, c.now)
	rec.Err = perr
	if ok {
		rec.Deletions = append(rec.Deletions, d)
	}
	return rec, nil
}
