package mastodon

import (
	"html"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatnight/chatnight/pipeline/post"
)

// Seed corpora live in testdata/fuzz/FuzzXxx; these add a few more.

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(`{"id":"1","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob","url":"https://a.example/@bob"},"content":"<p>#hcldr</p>","tags":[{"name":"HCLDR"}]}`))
	f.Add([]byte(`{"id":"1","uri":"https://a.example/s/1/activity","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob@a.example"},"reblog":{"id":"3","uri":"https://b.example/s/3","created_at":"2024-10-22T00:30:00.5Z","account":{"id":"4","acct":"eve@b.example"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		posts, err := ParseStatus(raw, post.SourceMastodon)
		if err != nil {
			return
		}
		if len(posts) == 0 || len(posts) > 2 {
			t.Fatalf("%d posts", len(posts))
		}
		for _, p := range posts {
			if !strings.HasPrefix(p.ID, "mastodon:") || !strings.HasPrefix(p.Author.ID, "mastodon:") || !strings.Contains(p.Author.ID, "@") {
				t.Fatalf("ids %q %q", p.ID, p.Author.ID)
			}
			for _, tag := range p.Hashtags {
				if tag != post.NormalizeTag(tag) {
					t.Fatalf("tag %q not folded", tag)
				}
			}
			p.Community = "hcldr"
			body, err := post.Encode(nil, p)
			if err != nil {
				t.Fatal(err)
			}
			back, bad := post.Decode(body)
			if len(bad) > 0 || len(back) != 1 || back[0].ID != p.ID {
				t.Fatalf("post does not survive the wire: %v", bad)
			}
		}
		if len(posts) == 2 && (posts[1].Kind != post.KindRepost || posts[1].RepostOfID != posts[0].ID) {
			t.Fatalf("reblog: %+v", posts[1])
		}
	})
}

func FuzzHTMLToText(f *testing.F) {
	f.Add("<p>Q1 <a href=\"https://x/tags/hcldr\" class=\"mention hashtag\">#<span>hcldr</span></a></p><p>next<br>line</p>")
	f.Add("<script>alert(1)</script>&lt;b&gt;")
	f.Fuzz(func(t *testing.T, in string) {
		out := HTMLToText(in)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", out)
		}
		if out != strings.TrimFunc(out, isSpace) {
			t.Fatalf("untrimmed: %q", out)
		}
		if strings.Contains(out, "\n\n\n") {
			t.Fatalf("three line breaks: %q", out)
		}
		// Whatever a script holds, only the paragraph's text comes out.
		if utf8.ValidString(in) && !strings.ContainsRune(in, 0) && !strings.ContainsRune(in, '\r') {
			clean := strings.Map(func(r rune) rune {
				if r == '<' || r == '&' {
					return -1
				}
				return r
			}, in)
			want := strings.Join(strings.FieldsFunc(clean, isSpace), " ")
			doc := "<p>" + clean + "</p><script>" + clean + "<p>leak</p></script><style>" + clean + "</style>"
			if got := HTMLToText(doc); got != want {
				t.Fatalf("HTMLToText(%q) = %q, want %q", doc, got, want)
			}
		}
		// Escaped text comes back as itself, whitespace collapsed.
		if utf8.ValidString(in) && !strings.ContainsRune(in, 0) && !strings.ContainsRune(in, '\r') {
			want := strings.Join(strings.FieldsFunc(in, isSpace), " ")
			if got := HTMLToText(html.EscapeString(in)); got != want {
				t.Fatalf("HTMLToText(EscapeString(%q)) = %q, want %q", in, got, want)
			}
		}
	})
}
