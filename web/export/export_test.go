package export_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/web/export"
	"github.com/chatnight/chatnight/web/readmodel"
)

func TestTranscriptFormats(t *testing.T) {
	sess := readmodel.Session{ID: "s1", Community: "c", Start: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)}
	lines := []export.Line{
		{ID: "1", CreatedAt: sess.Start, Kind: "original", Handle: "host", Marks: "Q1", Text: "Q1: <script>alert(1)</script> & *bold*"},
		{ID: "2", CreatedAt: sess.Start.Add(time.Minute), Kind: "reply", Handle: "ana", Text: "=HYPERLINK(\"x\")\nsecond line", ReplyToID: "1",
			URL: `=HYPERLINK("http://evil.example","open")`},
		{ID: "3", CreatedAt: sess.Start.Add(2 * time.Minute), Kind: "original", Handle: "\u202eevil", Name: "\u202eNurse Ana", Text: "hi",
			URL: "https://m.example/@x/3"},
	}
	tests := []struct {
		format string
		check  func(t *testing.T, out string)
	}{
		{"csv", func(t *testing.T, out string) {
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 4 || rows[0][0] != "id" {
				t.Fatalf("csv: %v %v", rows, err)
			}
			if !strings.HasPrefix(rows[2][8], "'=") {
				t.Errorf("formula not neutralized: %q", rows[2][8])
			}
			// Only http(s) URLs are written as urls: a formula there is dropped.
			if rows[2][9] != "" || rows[3][9] != "https://m.example/@x/3" {
				t.Errorf("url column: %q, %q", rows[2][9], rows[3][9])
			}
		}},
		{"md", func(t *testing.T, out string) {
			if !strings.Contains(out, "&lt;script&gt;") || !strings.Contains(out, `\*bold\*`) || strings.Count(out, "\n- ") != 3 {
				t.Errorf("md:\n%s", out)
			}
		}},
		{"html", func(t *testing.T, out string) {
			if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") || strings.Count(out, `class="post"`) != 3 {
				t.Errorf("html:\n%s", out)
			}
			// A right-to-left override in a handle stays inside its own isolate.
			if !strings.Contains(out, "<bdi>@\u202eevil</bdi>") || !strings.Contains(out, "<bdi>hi</bdi>") {
				t.Errorf("handle and text not isolated:\n%s", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := export.WriteTranscript(&buf, tt.format, sess, lines, nil); err != nil {
				t.Fatal(err)
			}
			tt.check(t, buf.String())
		})
	}
	if err := export.WriteTranscript(&bytes.Buffer{}, "pdf", sess, lines, nil); err == nil {
		t.Error("an unknown format is accepted")
	}
}
