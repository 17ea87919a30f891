package redact_test

import (
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
