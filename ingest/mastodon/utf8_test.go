package mastodon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/pipeline/post"
)

// TestInvalidUTF8IsRefused: a status whose content holds bytes that are not UTF-8 is refused
// (the source dead-letters it), as the README promises, instead of being stored with U+FFFD
// where the bytes were; the same status with valid bytes parses.
func TestInvalidUTF8IsRefused(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "status", "original_html.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseStatus(raw, post.SourceImport); err != nil {
		t.Fatalf("the status itself: %v", err)
	}
	i := bytes.Index(raw, []byte(`"content": "`))
	if i < 0 {
		t.Fatal("no content in the fixture")
	}
	i += len(`"content": "`)
	bad := append(append(append([]byte(nil), raw[:i]...), "\xff\xfe"...), raw[i:]...)
	posts, err := ParseStatus(bad, post.SourceImport)
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Fatalf("%d posts, error %v; want a refusal for invalid UTF-8", len(posts), err)
	}
}
