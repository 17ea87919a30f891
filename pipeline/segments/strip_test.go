package segments

import (
	"testing"
)

func TestStripBios(t *testing.T) {
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"mastodon status: account note, reblog's too; fields kept",
			`{"id":"1","account":{"acct":"ana","note":"<p>ICU RN</p>","fields":[{"name":"Web","value":"x"}]},"reblog":{"account":{"acct":"bo","note":"Patient"}}}`,
			`{"account":{"acct":"ana","fields":[{"name":"Web","value":"x"}]},"id":"1","reblog":{"account":{"acct":"bo"}}}`},
		{"x v1 tweet: user description and its link entities; big ids exact",
			`{"id":1900000000000000002,"source":"web","user":{"id":42,"screen_name":"q","description":"MD https://t.co/a","entities":{"description":{"urls":[]},"url":{"urls":[]}}}}`,
			`{"id":1900000000000000002,"source":"web","user":{"entities":{"url":{"urls":[]}},"id":42,"screen_name":"q"}}`},
		{"x v2 page: includes.users description",
			`{"data":[{"id":"3","text":"<hi> & bye"}],"includes":{"users":[{"id":"43","username":"p","description":"health IT"}]}}`,
			`{"data":[{"id":"3","text":"<hi> & bye"}],"includes":{"users":[{"id":"43","username":"p"}]}}`},
		{"bluesky profile record and view",
			`[{"$type":"app.bsky.actor.profile","description":"Nurse","bridgyOriginalDescription":"Nurse!"},{"did":"did:plc:a","handle":"a.bsky.social","description":"Nurse"}]`,
			`[{"$type":"app.bsky.actor.profile"},{"did":"did:plc:a","handle":"a.bsky.social"}]`},
		{"a link card's description is the post's, not a bio",
			`{"embed":{"external":{"uri":"https://x.example","description":"card"}}}`,
			`{"embed":{"external":{"uri":"https://x.example","description":"card"}}}`},
		{"no bio key: unchanged bytes", `{"b":1, "a":2}`, `{"b":1, "a":2}`},
		{"not JSON: unchanged", `{"note":`, `{"note":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(StripBios([]byte(tc.raw))); got != tc.want {
				t.Errorf("StripBios(%s)\n got %s\nwant %s", tc.raw, got, tc.want)
			}
		})
	}
}

func BenchmarkStripBiosMastodon(b *testing.B) {
	raw := []byte(`{"id":"113500000000000001","uri":"https://hc.example/users/colin/statuses/113500000000000001","url":"https://hc.example/@colin/113500000000000001","created_at":"2026-11-25T01:42:00.000Z","content":"<p>A1: interoperability first <a href=\"https://hc.example/tags/hcldr\" class=\"mention hashtag\" rel=\"tag\">#<span>hcldr</span></a></p>","language":"en","visibility":"public","mentions":[],"tags":[{"name":"hcldr","url":"https://hc.example/tags/hcldr"}],"account":{"id":"1","username":"colin","acct":"colin","url":"https://hc.example/@colin","display_name":"Colin","followers_count":1523,"note":"<p>Health IT consultant</p>","fields":[]}}`)
	b.ReportAllocs()
	for b.Loop() {
		StripBios(raw)
	}
}
