package mastodon

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/post"
)

func readTestdata(t *testing.T, name string) []byte { return ingesttest.Testdata(t, name) }

func TestParseStatusGolden(t *testing.T) {
	ingesttest.GoldenFiles(t, "status", func(t *testing.T, _ string, raw []byte) ([]*post.Post, bool) {
		posts, err := ParseStatus(raw, post.SourceMastodon)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range posts {
			if err := p.Validate(); err == nil {
				t.Errorf("post %s validates without a community", p.ID)
			}
			p.Community = "hcldr"
			if err := p.Validate(); err != nil {
				t.Errorf("post %s: %v", p.ID, err)
			}
			p.Community = ""
			if len(p.Raw) == 0 || !json.Valid(p.Raw) {
				t.Errorf("post %s: Raw is not the status JSON", p.ID)
			}
		}
		return posts, true
	})
}

func TestParseStatusFields(t *testing.T) {
	ms := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC().Truncate(time.Second) // post.Normalize keeps whole seconds for Mastodon
	}
	tests := []struct {
		file  string
		check func(t *testing.T, ps []*post.Post)
	}{
		{"original_html.json", func(t *testing.T, ps []*post.Post) {
			p := one(t, ps)
			eq(t, "ID", p.ID, "mastodon:https://healthcare.example/users/colin/statuses/113369999999990001")
			eq(t, "Kind", p.Kind, post.KindOriginal)
			eq(t, "Source", p.Source, post.SourceMastodon)
			eq(t, "Author.ID", p.Author.ID, "mastodon:colin@healthcare.example") // local acct: domain from the profile url, folded
			eq(t, "Author.Handle", p.Author.Handle, "colin@healthcare.example")
			eq(t, "Author.Name", p.Author.Name, "Colin H. 🏥")
			eq(t, "Author.Followers", p.Author.Followers, uint64(1523))
			eq(t, "CreatedAt", p.CreatedAt, ms("2024-10-22T00:31:07Z"))
			eq(t, "Lang", p.Lang, "en")
			eq(t, "URL", p.URL, "https://healthcare.example/@colin/113369999999990001")
			eq(t, "Text", p.Text, "Welcome to #HCLDR tonight! Q1 comes at 8:35pm ET & our guest is @joe.\n"+
				"Read the primer first:\nhttps://blog.example.org/hcldr/primer?x=1&y=2\n\n"+
				"Also #HealthIT and <b>not bold</b> 🏥")
			eq(t, "Mentions", p.Mentions, []post.Account{{ID: "mastodon:joe@mastodon.example", Handle: "joe@mastodon.example"}})
			eq(t, "Hashtags", p.Hashtags, []string{"hcldr", "healthit"})
			eq(t, "URLs", p.URLs, []string{"https://blog.example.org/hcldr/primer?x=1&y=2"})
			eq(t, "ReplyToID", p.ReplyToID, "")
		}},
		{"reply.json", func(t *testing.T, ps []*post.Post) {
			p := one(t, ps)
			eq(t, "Kind", p.Kind, post.KindReply)
			eq(t, "ReplyToAuthorID", p.ReplyToAuthorID, "mastodon:colin@healthcare.example") // via the mention with the same local id
			eq(t, "ReplyToID", p.ReplyToID, "")                                              // a local id: unknown without a Lookup
			eq(t, "Author.ID", p.Author.ID, "mastodon:ana@nurses.example")
			eq(t, "Text", p.Text, "@colin A1: patient voices belong on every committee. #hcldr")
			eq(t, "Hashtags", p.Hashtags, []string{"hcldr"})
			eq(t, "URLs", len(p.URLs), 0)
		}},
		{"reblog.json", func(t *testing.T, ps []*post.Post) {
			if len(ps) != 2 {
				t.Fatalf("got %d posts, want the original and the reblog", len(ps))
			}
			orig, rb := ps[0], ps[1]
			eq(t, "orig.ID", orig.ID, "mastodon:https://nurses.example/users/ana/statuses/113370000000550999")
			eq(t, "orig.Kind", orig.Kind, post.KindOriginal)
			eq(t, "orig.Text", orig.Text, "Nurses lead on #HCLDR tonight")
			eq(t, "orig.Author.ID", orig.Author.ID, "mastodon:ana@nurses.example")
			eq(t, "rb.ID", rb.ID, "mastodon:https://healthcare.example/users/hitsm/statuses/113370000000000200/activity")
			eq(t, "rb.Kind", rb.Kind, post.KindRepost)
			eq(t, "rb.Author.ID", rb.Author.ID, "mastodon:hitsm@healthcare.example")
			eq(t, "rb.RepostOfID", rb.RepostOfID, orig.ID)
			eq(t, "rb.RepostOfAuthorID", rb.RepostOfAuthorID, orig.Author.ID)
			eq(t, "rb.Hashtags", rb.Hashtags, []string{"hcldr"}) // routed with its original
			eq(t, "rb.CreatedAt", rb.CreatedAt, ms("2024-10-22T00:40:01Z"))
			eq(t, "rb.Text", rb.Text, "")
			if !json.Valid(orig.Raw) || !bytes.Contains(orig.Raw, []byte(`statuses/113370000000550999"`)) || bytes.Contains(orig.Raw, []byte(`/activity`)) {
				t.Errorf("original's Raw is not the reblogged status: %.80s", orig.Raw)
			}
		}},
		{"quote.json", func(t *testing.T, ps []*post.Post) {
			p := one(t, ps)
			eq(t, "Kind", p.Kind, post.KindQuote)
			eq(t, "QuoteOfID", p.QuoteOfID, "mastodon:https://nurses.example/users/ana/statuses/113370000000550107")
			eq(t, "QuoteOfAuthorID", p.QuoteOfAuthorID, "mastodon:ana@nurses.example")
			eq(t, "Text", p.Text, "Long thread\n\nThis, exactly. #hcldr") // content warning first, RE: fallback dropped
			eq(t, "URLs", len(p.URLs), 0)
			eq(t, "CreatedAt", p.CreatedAt, ms("2025-07-22T00:35:00Z"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw := readTestdata(t, filepath.Join("status", tc.file))
			ps, err := ParseStatus(raw, post.SourceMastodon)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, ps)
		})
	}
}

func TestParseStatusSameStatusTwoInstances(t *testing.T) {
	a, err := ParseStatus(readTestdata(t, "status/via_instance_a.json"), post.SourceMastodon)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseStatus(readTestdata(t, "status/via_instance_b.json"), post.SourceMastodon)
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := one(t, a), one(t, b)
	eq(t, "ID", pa.ID, pb.ID)
	eq(t, "MsgID", pa.MsgID(), pb.MsgID())
	eq(t, "Author.ID", pa.Author.ID, pb.Author.ID) // "user@domain" from the remote acct and from the local one
	eq(t, "Author.ID", pa.Author.ID, "mastodon:healthitchat@hitsm.example")
	eq(t, "CreatedAt", pa.CreatedAt, pb.CreatedAt) // one instance sends .000, the other .865
	eq(t, "Text", pa.Text, pb.Text)
}

func TestParserLookup(t *testing.T) {
	raw := readTestdata(t, "status/reply.json")
	ps := Parser{Lookup: func(id string) (Ref, bool) {
		if id == "113370000000000001" {
			return Ref{URI: "https://healthcare.example/users/colin/statuses/113369999999990001", Acct: "colin@healthcare.example"}, true
		}
		return Ref{}, false
	}}
	posts, err := ps.Parse(raw, post.SourceMastodon)
	if err != nil {
		t.Fatal(err)
	}
	p := one(t, posts)
	eq(t, "ReplyToID", p.ReplyToID, "mastodon:https://healthcare.example/users/colin/statuses/113369999999990001")
	eq(t, "Kind", p.Kind, post.KindReply)

	// Self-reply: the parent's author is the author; the lookup gives the author when
	// the mention list does not.
	self := strings.Replace(string(raw), `"in_reply_to_account_id": "109300000000000042"`, `"in_reply_to_account_id": "109400000000000313"`, 1)
	posts, err = ps.Parse([]byte(self), post.SourceMastodon)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "self ReplyToAuthorID", one(t, posts).ReplyToAuthorID, "mastodon:ana@nurses.example")
	unknown := strings.Replace(string(raw), `"in_reply_to_account_id": "109300000000000042"`, `"in_reply_to_account_id": "1"`, 1)
	posts, err = ps.Parse([]byte(unknown), post.SourceMastodon)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "looked-up ReplyToAuthorID", one(t, posts).ReplyToAuthorID, "mastodon:colin@healthcare.example")
}

func TestParseStatusErrors(t *testing.T) {
	good := string(readTestdata(t, "status/reply.json"))
	tests := []struct {
		name, raw, want string
	}{
		{"not json", `{"id": "1", `, "decode status"},
		{"array", `[]`, "decode status"},
		{"null", `null`, "no uri"},
		{"no uri", strings.Replace(good, `"uri": "https://nurses.example/users/ana/statuses/113370000000550107"`, `"uri": ""`, 1), "no uri"},
		{"no account", `{"id":"1","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z"}`, "no account"},
		{"bad time", strings.Replace(good, `"2024-10-22T00:36:30.015Z"`, `"yesterday"`, 1), "created_at"},
		{"local acct without url", `{"id":"1","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob"}}`, "profile url"},
		{"broken reblog", `{"id":"1","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob@a.example"},"reblog":{"id":"3"}}`, "reblogged status"},
		{"followers-only is skipped", `{"id":"1","visibility":"private","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob@a.example"}}`, ""},
		{"numeric ids are fine", `{"id":1,"uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":2,"acct":"bob@a.example"}}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			posts, err := ParseStatus([]byte(tc.raw), post.SourceMastodon)
			if strings.Contains(tc.name, "skipped") && (err != nil || posts != nil) {
				t.Fatalf("got %d posts, %v; want none and no error", len(posts), err)
			}
			ingesttest.CheckErr(t, err, tc.want)
		})
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"paragraphs", "<p>one</p><p>two</p>", "one\n\ntwo"},
		{"br", "a<br>b<br/>c<br />d", "a\nb\nc\nd"},
		{"entities", "<p>&amp; &lt;3 &quot;q&quot; &#39;s&#39; &eacute; &#x1F600;</p>", `& <3 "q" 's' é 😀`},
		{"link text", `<a href="https://x.example/a">see <span>this</span></a>`, "see this"},
		{"invisible spans rebuild the url", `<a href="https://ex.example/long"><span class="invisible">https://</span><span class="ellipsis">ex.example/lo</span><span class="invisible">ng</span></a>`, "https://ex.example/long"},
		{"script and style dropped", "<p>a<script>var x = '<p>b</p>';</script>c</p><style>.x{}</style>", "ac"},
		{"nested template dropped", "x<template><template>y</template>z</template>w", "xw"},
		{"unclosed script drops the rest", "a<script>b", "a"},
		{"whitespace collapses", "<p>  a \n\t b  </p>", "a b"},
		{"pre keeps lines", "<pre>a\n  b</pre>", "a\n  b"},
		{"lists", "<ul><li>one</li><li>two</li></ul>", "one\ntwo"},
		{"quote-inline dropped", `<p class="quote-inline">RE: <a href="https://x">x</a></p><p>mine</p>`, "mine"},
		{"attributes never leak", `<img src="x" alt="pic" onerror="alert(1)"><a href="javascript:alert(1)">t</a>`, "t"},
		{"comments dropped", "a<!-- secret -->b", "ab"},
		{"text outside tags", "a <b>bold</b> c", "a bold c"},
		{"empty", "", ""},
		{"three breaks become two", "a<br><br><br>b", "a\n\nb"},
		{"leading breaks dropped", "<br><p>a</p>", "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HTMLToText(tc.in); got != tc.want {
				t.Errorf("HTMLToText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLinks(t *testing.T) {
	_, links := convertHTML(`<a href="https://a.example/tags/x" class="mention hashtag" rel="tag">#x</a>` +
		`<a href="https://a.example/@u" class="u-url mention">@u</a>` +
		`<a href="https://pleroma.example/tag/y" rel="tag">#y</a>` +
		`<a href=" https://site.example/p " rel="nofollow noopener">site</a>`)
	var shared []string
	for _, l := range links {
		if !l.IsMentionOrTag() {
			shared = append(shared, l.Href)
		}
	}
	eq(t, "links", len(links), 4)
	eq(t, "shared", shared, []string{"https://site.example/p"})
}

func TestCanonicalAcct(t *testing.T) {
	tests := []struct{ acct, user, url, want string }{
		{"alice@Mastodon.Example", "", "", "alice@mastodon.example"},
		{"alice", "", "https://Mastodon.Example/@alice", "alice@mastodon.example"},
		{"@alice@a.example", "", "", "alice@a.example"},
		{"", "bob", "https://b.example/@bob", "bob@b.example"},
		{"pp.bsky.social@bsky.brid.gy", "", "https://bsky.brid.gy/r/https://bsky.app/profile/pp", "pp.bsky.social@bsky.brid.gy"},
	}
	for _, tc := range tests {
		got, err := canonicalAcct(tc.acct, tc.user, tc.url)
		if err != nil || got != tc.want {
			t.Errorf("canonicalAcct(%q, %q, %q) = %q, %v; want %q", tc.acct, tc.user, tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a@", "@", "a@b@c"} {
		if got, err := canonicalAcct(bad, "", "https://x.example/@a"); err == nil {
			t.Errorf("canonicalAcct(%q) = %q, want an error", bad, got)
		}
	}
}

func one(t *testing.T, ps []*post.Post) *post.Post {
	t.Helper()
	if len(ps) != 1 {
		t.Fatalf("got %d posts, want 1", len(ps))
	}
	return ps[0]
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
