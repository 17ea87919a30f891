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
	// strict applies in the communities of strictIn (consent: strict): it also hides
	// Mastodon accounts that are not indexable.
	strict   *Redactor
	strictIn map[string]bool

	// all (research exports, ?pseudonymize=1) shows every account as its pseudonym,
	// not only the opted-out ones; known maps lower-case handles to account ids so an
	// @mention takes the pseudonym of the account it names.
	all   bool
	known map[string]string
}

// Pseudonymize returns r showing every account as its keyed-HMAC pseudonym (the key is
// the install's salt, so pseudonyms join across exports), with @mentions and profile
// URLs in text rewritten and post links dropped. Opted-out accounts' posts stay hidden.
// accounts maps handles to account ids for the mentions; a handle not in it takes the
// pseudonym of the handle itself.
func (r *Redactor) Pseudonymize(accounts map[string]string) *Redactor {
	var cp Redactor
	if r != nil {
		cp = *r
	}
	cp.all, cp.known = true, map[string]string{}
	for h, id := range accounts {
		cp.known[strings.ToLower(strings.TrimPrefix(h, "@"))] = id
	}
	if cp.strict != nil {
		cp.strict = cp.strict.Pseudonymize(accounts)
	}
	return &cp
}

// PostPrefix starts a pseudonymized post id.
const PostPrefix = "post-"

// PostID is id as a pseudonymized export shows it: "post-" and 12 hex digits of the
// keyed HMAC (post ids name their authors); unchanged when not pseudonymizing.
func (r *Redactor) PostID(id string) string {
	if !r.All() || id == "" {
		return id
	}
	m := hmac.New(sha256.New, []byte(r.salt))
	m.Write([]byte("post\x00" + id))
	return PostPrefix + hex.EncodeToString(m.Sum(nil))[:12]
}

// All says every account is pseudonymized (see Pseudonymize).
func (r *Redactor) All() bool { return r != nil && r.all }

// WithStrict returns r that, for the given communities, applies strict instead.
func (r *Redactor) WithStrict(strict *Redactor, communities []string) *Redactor {
	cp := *r
	cp.strict, cp.strictIn = strict, map[string]bool{}
	for _, c := range communities {
		cp.strictIn[c] = true
	}
	return &cp
}

// For returns the Redactor that applies to a community's data.
func (r *Redactor) For(community string) *Redactor {
	if r == nil || r.strict == nil || !r.strictIn[community] {
		return r
	}
	return r.strict
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
func (r *Redactor) Empty() bool { return r == nil || (len(r.ids) == 0 && !r.all) }

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
	if r == nil || len(r.ids) == 0 {
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
	if r.All() && (id != "" || handle != "") {
		if id == "" {
			h := strings.ToLower(strings.TrimPrefix(handle, "@"))
			if id = r.known[h]; id == "" {
				if p, ok := r.handles[h]; ok {
					return p, p
				}
				id = h
			}
		}
		p := r.Pseudonym(id)
		return p, p
	}
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
	if r.All() {
		s = profileURL.ReplaceAllStringFunc(s, func(u string) string {
			g := profileURL.FindStringSubmatch(u)
			h := firstNonEmpty(g[1], g[2], g[4]+"@"+g[3])
			_, p := r.Account("", h)
			return p
		})
		return anyMention.ReplaceAllStringFunc(s, func(m string) string {
			if strings.HasPrefix(m[1:], PseudonymPrefix) {
				return m
			}
			_, p := r.Account("", m[1:])
			return "@" + p
		})
	}
	if r.Empty() || r.mention == nil {
		return s
	}
	return r.mention.ReplaceAllStringFunc(s, func(m string) string {
		return "@" + r.handles[strings.ToLower(m[1:])]
	})
}

// anyMention is an @mention in text: a handle, a Mastodon user@domain, or a Bluesky
// domain handle.
var anyMention = regexp.MustCompile(`@[\p{L}\p{N}_](?:[\p{L}\p{N}_.-]*[\p{L}\p{N}_])?(?:@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+)?`)

// profileURL is a link to an account's profile: x.com or twitter.com/HANDLE,
// bsky.app/profile/HANDLE, or a Mastodon https://DOMAIN/@USER (groups: the X handle,
// the Bluesky handle, the Mastodon user and domain). Paths below a profile (a post's
// link) are taken with it.
var profileURL = regexp.MustCompile(`https?://(?:www\.|mobile\.)?(?:(?:x|twitter)\.com/([A-Za-z0-9_]{1,15})|bsky\.app/profile/([A-Za-z0-9.:_-]+)|([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/@([A-Za-z0-9_]+))(?:/[^\s]*[^\s.,;:!?)])?`)

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" && s != "@" {
			return s
		}
	}
	return ""
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
	if r.All() {
		p.AuthorID, p.AuthorHandle = r.Account(p.AuthorID, p.AuthorHandle)
		p.AuthorName, p.URL = "", ""
		// Post ids name their author (at://did/..., https://instance/users/name/...).
		p.ID, p.ReplyToID, p.RootID = r.PostID(p.ID), r.PostID(p.ReplyToID), r.PostID(p.RootID)
		p.QuoteOfID, p.RepostOfID = r.PostID(p.QuoteOfID), r.PostID(p.RepostOfID)
	}
	if p.RepostOfAuthorID != "" && r.Hidden(p.RepostOfAuthorID, "") {
		p.Text = HiddenText
	}
	p.ReplyToAuthor = r.ID(p.ReplyToAuthor)
	p.QuoteOfAuthorID = r.ID(p.QuoteOfAuthorID)
	p.RepostOfAuthorID = r.ID(p.RepostOfAuthorID)
	if len(p.Mentions) > 0 || len(p.MentionHandles) > 0 {
		p.Text = r.localMentions(p.Text, p.Mentions, p.MentionHandles)
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

// localMentions rewrites the @user form of the Mastodon accounts a post mentions
// (user@domain), as instances render mentions of their own and known accounts, when
// those accounts are shown as pseudonyms.
func (r *Redactor) localMentions(text string, ids, handles []string) string {
	for i, h := range handles {
		user, _, ok := strings.Cut(strings.TrimPrefix(h, "@"), "@")
		if !ok || user == "" {
			continue
		}
		id := ""
		if i < len(ids) {
			id = ids[i]
		}
		if !r.All() && !r.Hidden(id, h) {
			continue
		}
		_, pseudo := r.Account(id, h)
		// Not inside a link (".../@user/12") nor a longer word.
		re := regexp.MustCompile(`(?i)(^|[^/\p{L}\p{N}_])@` + regexp.QuoteMeta(user) + `(@[\p{L}\p{N}.-]+)?\b`)
		text = re.ReplaceAllStringFunc(text, func(m string) string {
			g := re.FindStringSubmatch(m)
			if g[2] != "" {
				return m // user@domain: Text handles it
			}
			return g[1] + "@" + pseudo
		})
	}
	return text
}

// Events redacts live events: posts of opted-out authors are dropped, the others
// pseudonymized. The slice is filtered in place.
func (r *Redactor) Events(events []live.Event) []live.Event {
	if r.Empty() && (r == nil || r.strict.Empty()) {
		return events
	}
	out := events[:0]
	for _, e := range events {
		if e.Post != nil {
			cp := *e.Post
			if !r.For(e.Community).Post(&cp) {
				continue
			}
			e.Post = &cp
		}
		out = append(out, e)
	}
	return out
}
