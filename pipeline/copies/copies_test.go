package copies

import (
	"testing"

	"github.com/chatnight/chatnight/pipeline/post"
)

// TestBridgedFromFediverse recognises Bridgy Fed's Bluesky copies of Mastodon statuses
// by the status URL their record names, and nothing else.
func TestBridgedFromFediverse(t *testing.T) {
	for _, tc := range []struct {
		name, handle, raw       string
		wantID, author, wantURL string
	}{
		{"status URL, bridged handle", "ana.nurses.example.ap.brid.gy", `{"commit":{"record":{"bridgyOriginalUrl":"https://nurses.example/@ana/1135"}}}`,
			"mastodon:https://nurses.example/users/ana/statuses/1135", "mastodon:ana@nurses.example", "https://nurses.example/@ana/1135"},
		{"ActivityPub id, handle not known yet (a DID)", "did:plc:ab", `{"record":{"bridgyOriginalUrl":"https://Nurses.Example/users/ana/statuses/7"}}`,
			"mastodon:https://nurses.example/users/ana/statuses/7", "mastodon:ana@nurses.example", "https://nurses.example/@ana/7"},
		{"a Bluesky user's own post", "ana.bsky.social", `{"commit":{"record":{"bridgyOriginalUrl":"https://nurses.example/@ana/1"}}}`, "", "", ""},
		{"a bridged web site's post", "blog.example.com", `{"commit":{"record":{"bridgyOriginalUrl":"https://blog.example.com/2026/post"}}}`, "", "", ""},
		{"a server naming statuses otherwise", "ana.pl.example.ap.brid.gy", `{"commit":{"record":{"bridgyOriginalUrl":"https://pl.example/notice/AbC"}}}`, "", "", ""},
		{"no original named", "ana.nurses.example.ap.brid.gy", `{"commit":{"record":{"text":"hi"}}}`, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &post.Post{ID: "bluesky:at://did:plc:ab/app.bsky.feed.post/3x", Author: post.Account{ID: "bluesky:did:plc:ab", Handle: tc.handle, Followers: 9},
				URL: "https://bsky.app/profile/did:plc:ab/post/3x", Text: "hi", Raw: []byte(tc.raw)}
			o, c, ok := Bridged(p)
			if tc.wantID == "" {
				if ok {
					t.Fatalf("recognised as a copy of %s", o.ID)
				}
				return
			}
			if !ok || o.ID != tc.wantID || o.Author.ID != tc.author || o.URL != tc.wantURL || o.Text != "hi" ||
				c != (Copy{Network: "bluesky", ID: p.ID, URL: p.URL}) {
				t.Fatalf("Bridged: %v %+v %+v", ok, o, c)
			}
		})
	}
}
