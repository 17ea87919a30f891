package tagscsv

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
)

func FuzzParseTAGS(f *testing.F) {
	f.Add([]byte("id_str,from_user,text,created_at,from_user_id_str,entities_str\n" +
		"5,a,\"RT @b: hi #HITsm\",Wed Apr 17 00:30:05 +0000 2024,1,\"{\"\"user_mentions\"\":[{\"\"screen_name\"\":\"\"b\"\",\"\"id_str\"\":\"\"2\"\"}]}\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), post.SourceImport)
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			row, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("reading from memory failed: %v", err)
			}
			if !bytes.Contains(data, row.Raw) {
				t.Fatalf("row raw %q is not part of the input", row.Raw)
			}
			if (row.Post == nil) == (row.Err == nil) {
				t.Fatalf("row has post %v and err %v", row.Post, row.Err)
			}
			if p := row.Post; p != nil {
				if !strings.HasPrefix(p.ID, "x:") || p.Kind == "" || p.CreatedAt.Location() != time.UTC {
					t.Fatalf("post %+v", p)
				}
				cp := *p
				cp.Community = "fuzz"
				if err := cp.Validate(); err != nil {
					t.Fatalf("post does not validate: %v", err)
				}
			}
		}
	})
}
