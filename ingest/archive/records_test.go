package archive

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/ingest/lines"
	"github.com/chatnight/chatnight/pipeline/post"
)

// echo is a parser that turns {"id": "..."} into a post with that id.
func echo(raw []byte, src post.Source) ([]*post.Post, error) {
	var v struct{ ID string }
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if v.ID == "" {
		return nil, errors.New("no id")
	}
	return []*post.Post{{ID: v.ID, Source: src}}, nil
}

type rec struct {
	Line int
	ID   string
	Err  bool
}

func readRecords(t *testing.T, in string) ([]rec, error) {
	t.Helper()
	rr := JSONRecords(strings.NewReader(in), echo, post.SourceImport)
	var out []rec
	for {
		r, err := rr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		x := rec{Line: r.Line, Err: r.Err != nil}
		if len(r.Posts) > 0 {
			x.ID = r.Posts[0].ID
		}
		out = append(out, x)
	}
}

func TestJSONRecords(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []rec
		wantErr  string
	}{
		{name: "lines", in: "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\r\n{\"id\":\n{\"id\":\"c\"}",
			want: []rec{{1, "a", false}, {3, "b", false}, {4, "", true}, {5, "c", false}}},
		{name: "bom and leading blank lines", in: "\xEF\xBB\xBF\n\n{\"id\":\"a\"}\n",
			want: []rec{{3, "a", false}}},
		{name: "a page per line", in: "[{\"id\":\"a\"},{\"id\":\"b\"}]\n{\"id\":\"c\"}\n[]\n",
			want: []rec{{1, "a", false}, {1, "b", false}, {2, "c", false}}},
		{name: "pretty array", in: "\n[\n  {\n    \"id\": \"a\"\n  },\n  {\"nope\": 1},\n  {\"id\": \"c\"}\n]\n",
			want: []rec{{3, "a", false}, {6, "", true}, {7, "c", false}}},
		{name: "arrays in a row", in: "[{\"id\":\"a\"}]\n[{\"id\":\"b\"}]",
			want: []rec{{1, "a", false}, {2, "b", false}}},
		{name: "broken array", in: "[{\"id\":\"a\"},\n{\"id\"", want: []rec{{1, "a", false}}, wantErr: "broken near line 2"},
		{name: "array then object", in: "[{\"id\":\"a\"}] {\"id\":\"b\"}", want: []rec{{1, "a", false}}, wantErr: "want a JSON array"},
		{name: "empty", in: "", want: nil},
		{name: "only space", in: " \n\t\n", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readRecords(t, tc.in)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("records = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	br := bufio.NewReaderSize(strings.NewReader("{\"id\":\""+long+"\"}\nnext\n"+long), 4096)
	line, err := lines.Read(br, 2<<20)
	if err != nil || len(line) != len(long)+9 {
		t.Fatalf("1 MiB line: %d bytes, %v", len(line), err)
	}
	if line, err := lines.Read(br, 10); string(line) != "next" || err != nil {
		t.Fatalf("next line = %q, %v", line, err)
	}
	if line, err := lines.Read(br, 100); len(line) != 100 || err != lines.ErrTooLong {
		t.Fatalf("over the limit: %d bytes, %v", len(line), err)
	}
	if _, err := lines.Read(br, 100); err != io.EOF {
		t.Fatalf("after the cut line: %v", err)
	}
}
