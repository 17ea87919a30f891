package xapi

import (
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
)

// checkParsed holds for every post any parser returns, whatever the input.
func checkParsed(t *testing.T, posts []*post.Post) {
	t.Helper()
	for _, p := range posts {
		if !strings.HasPrefix(p.ID, "x:") || !validID(strings.TrimPrefix(p.ID, "x:")) {
			t.Fatalf("post id %q", p.ID)
		}
		if !strings.HasPrefix(p.Author.ID, "x:") {
			t.Fatalf("author id %q", p.Author.ID)
		}
		if p.CreatedAt.Location() != time.UTC || !p.CreatedAt.Equal(p.CreatedAt.Truncate(time.Millisecond)) {
			t.Fatalf("created_at %v not UTC milliseconds", p.CreatedAt)
		}
		if p.Kind == "" {
			t.Fatalf("post %s has no kind", p.ID)
		}
		cp := *p
		cp.Community = "fuzz"
		if err := cp.Validate(); err != nil {
			t.Fatalf("parsed post does not validate: %v", err)
		}
		if _, err := post.Encode(nil, &cp); err != nil {
			t.Fatalf("parsed post does not encode: %v", err)
		}
	}
}

func FuzzParseV2(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"5","author_id":"7","text":"RT @a: hi #HCLDR","created_at":"2024-01-01T00:00:00.123456Z","referenced_tweets":[{"type":"retweeted","id":"4"}],"entities":{"mentions":[{"start":3,"username":"a","id":"8"}]}}],"includes":{"tweets":[{"id":"4","author_id":"8","text":"hi #HCLDR","created_at":"2023-12-31T23:00:00Z"}],"users":[{"id":"7","username":"u"}]},"meta":{"result_count":1}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		posts, _ := ParseV2(raw, post.SourceImport)
		checkParsed(t, posts)
	})
}

func FuzzParseV1(f *testing.F) {
	f.Add([]byte(`{"id_str":"12","full_text":"RT @b: x &amp; y","created_at":"Wed Apr 17 00:34:00 +0000 2024","user":{"id_str":"1","screen_name":"a"},"retweeted_status":{"id_str":"11","text":"x &amp; y","created_at":"Wed Apr 17 00:30:00 +0000 2024","user":{"id_str":"2","screen_name":"b"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		posts, _ := ParseV1(raw, post.SourceImport)
		checkParsed(t, posts)
	})
}
