// Package redact applies an opt-out list to what readers see: it hides opted-out
// accounts' posts and replaces their ids, handles and names by stable pseudonyms, for
// the stats, the exports and the hub's live events alike.
package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"strings"

	"github.com/chatnight/chatnight/pipeline/live"
)

// PseudonymPrefix starts every pseudonym.
const PseudonymPrefix = "participant-"

// Redactor applies an opt-out list: it hides opted-out accounts' posts and replaces
// their ids, handles and names by a stable pseudonym. A nil *Redactor hides nothing.
type Redactor struct {
	salt    string
	ids     map[string]bool   // lower-case account ids and subjects
	handles map[string]string // lower-case handle -> pseudonym
	mention *regexp.Regexp    // @handle of any opted-out handle
}

// NewRedactor is a Redactor over fixed lists, for tests and tools: ids are account
// ids, handles map a handle to its account id ("" when unknown).
func NewRedactor(salt string, ids []string, handles map[string]string) *Redactor {
	r := &Redactor{salt: salt, ids: map[string]bool{}, handles: map[string]string{}}
	for _, id := range ids {
		r.ids[strings.ToLower(id)] = true
	}
	for h, id := range handles {
		if id == "" {
			id = h
		}
		r.ids[strings.ToLower(id)] = true
		r.handles[strings.ToLower(h)] = r.Pseudonym(id)
	}
	r.compile()
	return r
}

func (r *Redactor) compile() {
	if len(r.handles) == 0 {
		return
	}
	hs := make([]string, 0, len(r.handles))
	for h := range r.handles {
		hs = append(hs, regexp.QuoteMeta(h))
	}
	sort.Slice(hs, func(i, j int) bool { return len(hs[i]) > len(hs[j]) || (len(hs[i]) == len(hs[j]) && hs[i] < hs[j]) })
	r.mention = regexp.MustCompile(`(?i)@(` + strings.Join(hs, "|") + `)\b`)
}

// Empty says nobody is opted out.
func (r *Redactor) Empty() bool { return r == nil || len(r.ids) == 0 }

// Pseudonym is the stable stand-in for account id: "participant-" and 10 hex digits
// of an HMAC keyed by the server's salt.
func (r *Redactor) Pseudonym(id string) string {
	salt := ""
	if r != nil {
		salt = r.salt
	}
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(strings.ToLower(id)))
	return PseudonymPrefix + hex.EncodeToString(m.Sum(nil))[:10]
}

// Hidden says whether the account (id, handle; either may be empty) opted out.
func (r *Redactor) Hidden(id, handle string) bool {
	if r.Empty() {
		return false
	}
	if id != "" && r.ids[strings.ToLower(id)] {
		return true
	}
	if handle != "" {
		if _, ok := r.handles[strings.ToLower(strings.TrimPrefix(handle, "@"))]; ok {
			return true
		}
	}
	return false
}

// Account returns what to show for an account: itself, or its pseudonym as both id and
// handle when it opted out.
func (r *Redactor) Account(id, handle string) (string, string) {
	if !r.Hidden(id, handle) {
		return id, handle
	}
	if id == "" {
		if p, ok := r.handles[strings.ToLower(strings.TrimPrefix(handle, "@"))]; ok {
			return p, p
		}
		id = handle
	}
	p := r.Pseudonym(id)
	return p, p
}

// ID is Account's id alone.
func (r *Redactor) ID(id string) string {
	out, _ := r.Account(id, "")
	return out
}

// Text replaces @mentions of opted-out handles in s by @pseudonym.
func (r *Redactor) Text(s string) string {
	if r.Empty() || r.mention == nil {
		return s
	}
	return r.mention.ReplaceAllStringFunc(s, func(m string) string {
		return "@" + r.handles[strings.ToLower(m[1:])]
	})
}

// HiddenText replaces the text of a post that reproduces an opted-out account's post.
const HiddenText = "[hidden: the author opted out]"

// Post redacts p in place. It returns false when p must not be shown at all (its
// author opted out); otherwise the accounts it refers to are pseudonymized and, for a
// repost of an opted-out account, the reposted text is withheld.
func (r *Redactor) Post(p *live.Post) bool {
	if r.Empty() || p == nil {
		return true
	}
	if r.Hidden(p.AuthorID, p.AuthorHandle) {
		return false
	}
	if p.RepostOfAuthorID != "" && r.Hidden(p.RepostOfAuthorID, "") {
		p.Text = HiddenText
	}
	p.ReplyToAuthor = r.ID(p.ReplyToAuthor)
	p.QuoteOfAuthorID = r.ID(p.QuoteOfAuthorID)
	p.RepostOfAuthorID = r.ID(p.RepostOfAuthorID)
	if len(p.Mentions) > 0 || len(p.MentionHandles) > 0 {
		ids := append([]string(nil), p.Mentions...)
		hs := append([]string(nil), p.MentionHandles...)
		for i := range max(len(ids), len(hs)) {
			var id, h string
			if i < len(ids) {
				id = ids[i]
			}
			if i < len(hs) {
				h = hs[i]
			}
			id2, h2 := r.Account(id, h)
			if i < len(ids) {
				ids[i] = id2
			}
			if i < len(hs) {
				hs[i] = h2
			}
		}
		p.Mentions, p.MentionHandles = ids, hs
	}
	p.Text = r.Text(p.Text)
	return true
}

// Events redacts live events: posts of opted-out authors are dropped, the others
// pseudonymized. The slice is filtered in place.
func (r *Redactor) Events(events []live.Event) []live.Event {
	if r.Empty() {
		return events
	}
	out := events[:0]
	for _, e := range events {
		if e.Post != nil {
			cp := *e.Post
			if !r.Post(&cp) {
				continue
			}
			e.Post = &cp
		}
		out = append(out, e)
	}
	return out
}
