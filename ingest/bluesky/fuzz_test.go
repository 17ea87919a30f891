package bluesky

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatnight/chatnight/pipeline/post"
)

// Seed corpora live in testdata/fuzz/FuzzXxx; these add a few more.

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"did":"did:plc:a","time_us":1729557067482123,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l","record":{"text":"é #hcldr","createdAt":"2024-10-22T00:31:07Z","facets":[{"index":{"byteStart":3,"byteEnd":9},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:b"}]}]}}}`))
	f.Add([]byte(`{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l","record":{"text":"x","createdAt":"2024-10-22T00:31:07Z","facets":[{"index":{"byteStart":-5,"byteEnd":99},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:b"}]}]}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		posts, err := ParseEvent(raw, post.SourceBluesky)
		if err != nil {
			return
		}
		if len(posts) > 1 {
			t.Fatalf("%d posts from one event", len(posts))
		}
		for _, p := range posts {
			if !strings.HasPrefix(p.ID, "bluesky:at://did:") || !strings.HasPrefix(p.Author.ID, "bluesky:did:") {
				t.Fatalf("ids %q %q", p.ID, p.Author.ID)
			}
			if p.CreatedAt.IsZero() || p.CreatedAt.Location().String() != "UTC" {
				t.Fatalf("created_at %v", p.CreatedAt)
			}
			switch p.Kind {
			case post.KindOriginal, post.KindReply, post.KindQuote, post.KindRepost:
			default:
				t.Fatalf("kind %q", p.Kind)
			}
			if !utf8.ValidString(p.Text) {
				t.Fatal("text is not UTF-8")
			}
			for _, m := range p.Mentions {
				if !strings.HasPrefix(m.ID, "bluesky:did:") || m.Handle == "" {
					t.Fatalf("mention %+v", m)
				}
			}
			for _, tag := range p.Hashtags {
				if tag == "" || tag != post.NormalizeTag(tag) {
					t.Fatalf("tag %q", tag)
				}
			}
			p.Community = "hcldr"
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			body, err := post.Encode(nil, p)
			if err != nil {
				t.Fatal(err)
			}
			if back, bad := post.Decode(body); len(bad) > 0 || len(back) != 1 {
				t.Fatalf("post does not survive the wire: %v", bad)
			}
		}
	})
}

func FuzzTextHashtags(f *testing.F) {
	f.Add("Q1 #HCLDR: who leads? #2024 (#x) #️⃣ ＃ＨＩＴｓｍ")
	f.Fuzz(func(t *testing.T, text string) {
		for _, tag := range TextHashtags(text) {
			if tag == "" || strings.ContainsFunc(tag, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' }) {
				t.Fatalf("tag %q from %q", tag, text)
			}
			if !strings.Contains(strings.ToLower(text), tag) && utf8.ValidString(text) {
				// Folding may change the length of some characters; the tag must at
				// least come from the text.
				if !strings.Contains(post.NormalizeTag(text), tag) {
					t.Fatalf("tag %q not in %q", tag, text)
				}
			}
		}
	})
}
