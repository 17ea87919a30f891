package post

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzDecode: whatever a message body holds, Decode neither panics nor loses a line:
// every non-blank line is a post or a bad line, and every post it returns passes
// Validate and survives another round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"sim:1","source":"sim","community":"c","author":{"id":"sim:a"},"created_at":"2026-01-01T00:00:00Z","text":"hi #HCLDR","hashtags":["＃ＨＣＬＤＲ"]}`))
	f.Add([]byte("{\"id\":\"sim:2\"\n\x00\xff\n[[[[[[[[[[\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		posts, bad := Decode(body)
		lines := 0
		for _, l := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(posts)+len(bad) != lines {
			t.Fatalf("%d posts + %d bad lines, want %d lines", len(posts), len(bad), lines)
		}
		for _, b := range bad {
			if b.Err == nil || b.Line < 1 {
				t.Fatalf("bad line without a reason or number: %+v", b)
			}
		}
		for _, p := range posts {
			if err := p.Validate(); err != nil {
				t.Fatalf("Decode returned an invalid post: %v", err)
			}
			if !utf8.ValidString(p.Text) {
				t.Fatalf("text is not UTF-8: %q", p.Text)
			}
			enc, err := Encode(nil, p)
			if err != nil {
				t.Fatal(err)
			}
			again, bad := Decode(enc)
			if len(again) != 1 || len(bad) != 0 {
				t.Fatalf("re-encoded post does not decode: %d posts, %v", len(again), bad)
			}
		}
	})
}
