package redact_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/web/redact"
)

func TestRedactorPost(t *testing.T) {
	r := redact.NewRedactor("salt", nil, map[string]string{"ana": "sim:ana"})
	ps := r.Pseudonym("sim:ana")
	if !strings.HasPrefix(ps, redact.PseudonymPrefix) || ps != r.Pseudonym("SIM:ANA") || ps == redact.NewRedactor("other", nil, nil).Pseudonym("sim:ana") {
		t.Fatalf("pseudonym %q: must be stable per id and depend on the salt", ps)
	}
	tests := []struct {
		name string
		in   live.Post
		keep bool
		text string
	}{
		{"own post hidden", live.Post{AuthorID: "sim:ana", AuthorHandle: "ana", Text: "hi"}, false, ""},
		{"hidden by handle alone", live.Post{AuthorID: "x:1", AuthorHandle: "@Ana", Text: "hi"}, false, ""},
		{"mention rewritten", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "thanks @Ana and @anakin!",
			Mentions: []string{"sim:ana"}, MentionHandles: []string{"ana"}}, true, "thanks @" + ps + " and @anakin!"},
		{"reply to hidden", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "yes", ReplyToAuthor: "sim:ana"}, true, "yes"},
		{"repost of hidden withheld", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "RT @ana: secret", RepostOfAuthorID: "sim:ana"}, true, redact.HiddenText},
		{"others untouched", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "@carol hi"}, true, "@carol hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.in
			if got := r.Post(&p); got != tt.keep {
				t.Fatalf("keep = %v, want %v", got, tt.keep)
			}
			if !tt.keep {
				return
			}
			if p.Text != tt.text {
				t.Errorf("text %q, want %q", p.Text, tt.text)
			}
			for _, v := range append(append([]string{p.ReplyToAuthor, p.RepostOfAuthorID}, p.Mentions...), p.MentionHandles...) {
				if strings.Contains(strings.ToLower(v), "ana") && !strings.Contains(v, "anakin") {
					t.Errorf("still names ana: %+v", p)
				}
			}
		})
	}
	var nilR *redact.Redactor
	if p := (live.Post{AuthorID: "sim:ana"}); !nilR.Post(&p) || nilR.Hidden("sim:ana", "ana") {
		t.Error("a nil Redactor hides")
	}
}

// TestPseudonymizeEverything: research exports show every account as its pseudonym,
// in ids, handles, mentions and profile links, with the same pseudonym for an account
// wherever it appears; opted-out authors stay hidden; strict communities use their own
// list.
func TestPseudonymizeEverything(t *testing.T) {
	base := redact.NewRedactor("install-key", nil, map[string]string{"gone": "x:9"})
	r := base.Pseudonymize(map[string]string{"ana": "x:1", "bo@mastodon.social": "mastodon:bo@mastodon.social", "cy.bsky.social": "bluesky:did:plc:cy"})
	ana, bo, cy := r.Pseudonym("x:1"), r.Pseudonym("mastodon:bo@mastodon.social"), r.Pseudonym("bluesky:did:plc:cy")
	for _, p := range []string{ana, bo, cy} {
		if len(p) != len(redact.PseudonymPrefix)+10 {
			t.Fatalf("pseudonym %q", p)
		}
	}
	if ana == base.Pseudonym("x:2") || ana == bo {
		t.Fatalf("pseudonyms must differ per account: %q", ana)
	}
	p := live.Post{ID: "x:100", AuthorID: "x:1", AuthorHandle: "ana", AuthorName: "Ana A", URL: "https://x.com/ana/status/100",
		Text:     "Q1 @bo@mastodon.social see https://bsky.app/profile/cy.bsky.social and https://mastodon.social/@bo/12, https://x.com/ana. cc @ana.",
		Mentions: []string{"mastodon:bo@mastodon.social"}, MentionHandles: []string{"bo@mastodon.social"}, ReplyToAuthor: "bluesky:did:plc:cy"}
	if !r.Post(&p) {
		t.Fatal("a post of an account that did not opt out was hidden")
	}
	if pid := r.PostID("x:100"); pid != r.PostID("x:100") || len(pid) != len(redact.PostPrefix)+12 || !strings.HasPrefix(pid, redact.PostPrefix) || base.PostID("x:100") != "x:100" {
		t.Fatalf("post id %q: want a stable keyed pseudonym, and the id itself when not pseudonymizing", pid)
	}
	want := live.Post{ID: r.PostID("x:100"), AuthorID: ana, AuthorHandle: ana,
		Text:     "Q1 @" + bo + " see " + cy + " and " + bo + ", " + ana + ". cc @" + ana + ".",
		Mentions: []string{bo}, MentionHandles: []string{bo}, ReplyToAuthor: cy}
	if got, w := fmt.Sprintf("%+v", p), fmt.Sprintf("%+v", want); got != w {
		t.Errorf("pseudonymized post\n got %s\nwant %s", got, w)
	}
	if hidden := (live.Post{AuthorID: "x:9", AuthorHandle: "gone"}); r.Post(&hidden) {
		t.Error("an opted-out author's post was shown in a pseudonymized export")
	}
	// The same key gives the same pseudonyms in another export.
	again := redact.NewRedactor("install-key", nil, nil).Pseudonymize(nil)
	if id, h := again.Account("x:1", "ana"); id != ana || h != ana {
		t.Errorf("second export: %s %s, want %s", id, h, ana)
	}

	strict := redact.NewRedactor("install-key", []string{"mastodon:bo@mastodon.social"}, map[string]string{"bo@mastodon.social": "mastodon:bo@mastodon.social"})
	rs := redact.NewRedactor("install-key", nil, nil).WithStrict(strict, []string{"strictchat"})
	if rs.For("open").Hidden("mastodon:bo@mastodon.social", "") || !rs.For("strictchat").Hidden("mastodon:bo@mastodon.social", "") {
		t.Error("strict list must apply to strict communities only")
	}
	evs := rs.Events([]live.Event{{Type: live.TypePost, Community: "strictchat", Post: &live.Post{AuthorID: "mastodon:bo@mastodon.social"}},
		{Type: live.TypePost, Community: "open", Post: &live.Post{AuthorID: "mastodon:bo@mastodon.social"}}})
	if len(evs) != 1 || evs[0].Community != "open" {
		t.Errorf("live events after strict redaction: %+v", evs)
	}
}
