package archive

import (
	"bytes"
	"io"
	"testing"

	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/post"
)

// FuzzParseJSONRecords feeds arbitrary files to the JSON record reader with the X v2
// parser: it must neither panic nor loop, and lines must not go backwards.
func FuzzParseJSONRecords(f *testing.F) {
	f.Add([]byte("{\"data\":{\"id\":\"1\",\"author_id\":\"2\",\"text\":\"#hcldr\",\"created_at\":\"2024-04-17T00:30:00Z\"}}\n[{\"id\":\"3\"}]\n"))
	f.Add([]byte("\xEF\xBB\xBF[\n {\"id\": \"1\", \"author_id\": \"2\", \"text\": \"a\", \"created_at\": \"2024-04-17T00:30:00Z\"},\n 5\n]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr := JSONRecords(bytes.NewReader(data), xapi.ParseV2, post.SourceImport)
		last := 0
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("more records than bytes: reader does not advance")
			}
			r, err := rr.Next()
			if err != nil {
				if err != io.EOF && r.Line != 0 {
					t.Fatalf("error record with a line: %+v", r)
				}
				return
			}
			if r.Line < last || r.Line < 1 {
				t.Fatalf("line %d after %d", r.Line, last)
			}
			last = r.Line
			if !bytes.Contains(data, bytes.TrimSpace(r.Raw)) && len(r.Raw) > 0 && r.Raw[0] != '{' {
				t.Fatalf("raw %q not from the input", r.Raw)
			}
		}
	})
}
