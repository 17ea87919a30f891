// Package mastodon reads hashtag timelines of Mastodon instances: ParseStatus turns a
// status of the REST or streaming API into canonical posts, ReadArchive reads saved
// statuses for the importer, Poller pages a tag timeline over REST, and Streaming
// follows the hashtag stream with a REST backfill after each (re)connect.
//
// A status has one id per instance that knows it but a single uri, so posts are keyed
// "mastodon:<uri>" and the same status polled through two instances is stored once.
// Accounts are keyed by their canonical acct "user@domain".
package mastodon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
)

// Status is the part of a Mastodon Status entity chatnight reads.
type Status struct {
	ID                 localID         `json:"id"`
	URI                string          `json:"uri"`
	URL                string          `json:"url"`
	CreatedAt          string          `json:"created_at"`
	InReplyToID        localID         `json:"in_reply_to_id"`
	InReplyToAccountID localID         `json:"in_reply_to_account_id"`
	Account            *Account        `json:"account"`
	Content            string          `json:"content"`
	SpoilerText        string          `json:"spoiler_text"`
	Language           string          `json:"language"`
	Visibility         string          `json:"visibility"`
	Mentions           []Mention       `json:"mentions"`
	Tags               []Tag           `json:"tags"`
	Card               *Card           `json:"card"`
	Reblog             json.RawMessage `json:"reblog"`
	Quote              *Quote          `json:"quote"`
}

// Account is the author of a status.
type Account struct {
	ID             localID `json:"id"`
	Username       string  `json:"username"`
	Acct           string  `json:"acct"`
	URL            string  `json:"url"`
	DisplayName    string  `json:"display_name"`
	FollowersCount int64   `json:"followers_count"`
	Note           string  `json:"note"` // the bio, HTML
	Fields         []Field `json:"fields"`
	// NoIndex and Indexable are the account's consent signals (Mastodon 4.0, 4.2);
	// nil when the instance does not send them.
	NoIndex   *bool `json:"noindex"`
	Indexable *bool `json:"indexable"`
}

// Field is a profile metadata field; VerifiedAt is set when the instance found a
// rel="me" link back to the profile on the page Value links to.
type Field struct {
	Name       string  `json:"name"`
	Value      string  `json:"value"` // HTML
	VerifiedAt *string `json:"verified_at"`
}

// verifiedLinks are the URLs of the account's verified fields.
func (a *Account) verifiedLinks() []string {
	var out []string
	for _, f := range a.Fields {
		if f.VerifiedAt == nil || *f.VerifiedAt == "" {
			continue
		}
		_, links := convertHTML(f.Value)
		for _, l := range links {
			if u, err := url.Parse(l.Href); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
				out = append(out, l.Href)
				break
			}
		}
	}
	return out
}

// consent is the account's consent signals, nil when the status carries neither.
func (a *Account) consent() *post.Consent {
	if a.NoIndex == nil && a.Indexable == nil {
		return nil
	}
	return &post.Consent{NoIndex: a.NoIndex != nil && *a.NoIndex, Indexable: a.Indexable != nil && *a.Indexable}
}

// Mention is an account mentioned in a status.
type Mention struct {
	ID       localID `json:"id"`
	Username string  `json:"username"`
	Acct     string  `json:"acct"`
	URL      string  `json:"url"`
}

// Tag is a hashtag used in a status.
type Tag struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Card is the preview of the first link of a status.
type Card struct {
	URL string `json:"url"`
}

// Quote is the quoted post of a Mastodon 4.4+ quote post. Servers send the full
// quoted status (Quote) at the top level and only its id (ShallowQuote) when nested.
type Quote struct {
	State          string          `json:"state"`
	QuotedStatus   json.RawMessage `json:"quoted_status"`
	QuotedStatusID localID         `json:"quoted_status_id"`
}

// localID is an id local to one instance. Mastodon sends strings; some servers and
// tools write numbers, which keep all their digits.
type localID string

func (id *localID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*id = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = localID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %.40s: %w", b, err)
	}
	*id = localID(n.String())
	return nil
}

// Ref is what is known of a status referenced by a local id: its uri and its author's
// canonical acct ("user@domain", "" when unknown).
type Ref struct {
	URI  string
	Acct string
}

// Parser turns statuses into posts. The zero Parser is ParseStatus.
type Parser struct {
	// Lookup resolves a status id local to the instance the statuses were read from
	// (in_reply_to_id) to the parent's uri. Statuses only name their parent by that
	// local id, which means nothing on another instance, so without a Lookup (or
	// when it does not know the id) a reply keeps Kind reply and its
	// ReplyToAuthorID, but no ReplyToID. Raw keeps in_reply_to_id for later
	// re-derivation. The Poller resolves ids from the statuses it has seen and, for
	// the rest, with GET /api/v1/statuses/:id on the polled instance.
	Lookup func(localID string) (Ref, bool)
	// Time, when set, gives the time to store for a status uri parsed with time t, so
	// that copies of one status from several instances agree (see Times).
	Time func(uri string, t time.Time) time.Time
}

// ParseStatus turns a status JSON into posts: one post, or for a reblog the reblogged
// status followed by the reblog itself as a repost of it. Community is left empty for
// the caller to route. A followers-only or direct status (visibility "private",
// "direct" or "limited", which an archive may hold) gives no posts and no error: it
// was not said to the chat. It is pure: see Parser for what it cannot know.
func ParseStatus(raw []byte, source post.Source) ([]*post.Post, error) {
	return Parser{}.Parse(raw, source)
}

// Parse is ParseStatus with the parser's Lookup.
func (ps Parser) Parse(raw []byte, source post.Source) ([]*post.Post, error) {
	posts, err := ps.parse(raw, source)
	if err != nil {
		return nil, err
	}
	return post.Usable(posts) // a post the pipeline would refuse makes the status invalid
}

func (ps Parser) parse(raw []byte, source post.Source) ([]*post.Post, error) {
	var st Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	switch st.Visibility {
	case "private", "direct", "limited":
		return nil, nil
	}
	if isNull(st.Reblog) {
		p, err := ps.toPost(&st, raw, source)
		if err != nil {
			return nil, err
		}
		return []*post.Post{p}, nil
	}
	var orig Status
	if err := json.Unmarshal(st.Reblog, &orig); err != nil {
		return nil, fmt.Errorf("decode reblogged status of %s: %w", st.URI, err)
	}
	op, err := ps.toPost(&orig, st.Reblog, source)
	if err != nil {
		return nil, fmt.Errorf("reblogged status: %w", err)
	}
	rp, err := ps.header(&st, raw, source)
	if err != nil {
		return nil, err
	}
	rp.Kind = post.KindRepost
	rp.RepostOfID = op.ID
	rp.RepostOfAuthorID = op.Author.ID
	rp.URL = firstNonEmpty(st.URL, op.URL)
	rp.Lang = op.Lang
	// A reblog carries no tags of its own; it joins the chat its original is in.
	rp.Hashtags = slices.Clone(op.Hashtags)
	rp.Normalize()
	return []*post.Post{op, rp}, nil
}

// header fills what every post has: id, author, time, source and raw.
func (ps Parser) header(st *Status, raw []byte, source post.Source) (*post.Post, error) {
	if st.URI == "" {
		return nil, errors.New("status has no uri")
	}
	if st.Account == nil {
		return nil, fmt.Errorf("status %s has no account", st.URI)
	}
	acct, err := canonicalAcct(st.Account.Acct, st.Account.Username, st.Account.URL)
	if err != nil {
		return nil, fmt.Errorf("status %s: author: %w", st.URI, err)
	}
	created, err := parseTime(st.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("status %s: created_at: %w", st.URI, err)
	}
	if ps.Time != nil {
		created = ps.Time(st.URI, created)
	}
	return &post.Post{
		ID:     PostID(st.URI),
		Source: source,
		Author: post.Account{
			ID:            AccountID(acct),
			Handle:        acct,
			Name:          st.Account.DisplayName,
			Followers:     uint64(max(st.Account.FollowersCount, 0)),
			Bio:           HTMLToText(st.Account.Note),
			VerifiedLinks: st.Account.verifiedLinks(),
			Consent:       st.Account.consent(),
		},
		CreatedAt: created,
		URL:       firstNonEmpty(st.URL, st.URI),
		Raw:       slices.Clone(raw),
	}, nil
}

func (ps Parser) toPost(st *Status, raw []byte, source post.Source) (*post.Post, error) {
	p, err := ps.header(st, raw, source)
	if err != nil {
		return nil, err
	}
	text, links := convertHTML(st.Content)
	if cw := strings.TrimSpace(st.SpoilerText); cw != "" {
		// The content warning is part of what the author wrote, shown first.
		text = strings.TrimSpace(cw + "\n\n" + text)
	}
	p.Text = text
	p.Lang = st.Language

	mentionAcct := map[localID]string{}
	seen := map[string]bool{}
	for _, m := range st.Mentions {
		acct, err := canonicalAcct(m.Acct, m.Username, m.URL)
		if err != nil {
			continue // a mention we cannot name is not worth failing the status for
		}
		mentionAcct[m.ID] = acct
		if !seen[acct] {
			seen[acct] = true
			p.Mentions = append(p.Mentions, post.Account{ID: AccountID(acct), Handle: acct})
		}
	}

	tagSeen := map[string]bool{}
	for _, t := range st.Tags {
		if n := post.NormalizeTag(t.Name); n != "" && !tagSeen[n] {
			tagSeen[n] = true
			p.Hashtags = append(p.Hashtags, n)
		}
	}

	urlSeen := map[string]bool{}
	addURL := func(u string) {
		if !isWebURL(u) || urlSeen[u] {
			return
		}
		urlSeen[u] = true
		p.URLs = append(p.URLs, u)
	}
	for _, l := range links {
		if !l.IsMentionOrTag() {
			addURL(l.Href)
		}
	}
	if st.Card != nil {
		addURL(st.Card.URL)
	}

	if st.InReplyToID != "" {
		p.Kind = post.KindReply
		switch {
		case st.InReplyToAccountID == "":
		case st.InReplyToAccountID == st.Account.ID:
			p.ReplyToAuthorID = p.Author.ID
		case mentionAcct[st.InReplyToAccountID] != "":
			p.ReplyToAuthorID = AccountID(mentionAcct[st.InReplyToAccountID])
		}
		if ps.Lookup != nil {
			if ref, ok := ps.Lookup(string(st.InReplyToID)); ok && ref.URI != "" {
				p.ReplyToID = PostID(ref.URI)
				if p.ReplyToAuthorID == "" && ref.Acct != "" {
					p.ReplyToAuthorID = AccountID(ref.Acct)
				}
			}
		}
	}

	if st.Quote != nil && !isNull(st.Quote.QuotedStatus) {
		var q Status
		if err := json.Unmarshal(st.Quote.QuotedStatus, &q); err == nil && q.URI != "" {
			p.Kind = post.KindQuote
			p.QuoteOfID = PostID(q.URI)
			if q.Account != nil {
				if acct, err := canonicalAcct(q.Account.Acct, q.Account.Username, q.Account.URL); err == nil {
					p.QuoteOfAuthorID = AccountID(acct)
				}
			}
		}
	}
	p.Normalize()
	return p, nil
}

// PostID is the canonical id of the status with uri.
func PostID(uri string) string { return "mastodon:" + uri }

// AccountID is the canonical id of the account with canonical acct "user@domain".
func AccountID(acct string) string { return "mastodon:" + acct }

// canonicalAcct returns "user@domain" for an account. Remote accounts' acct already
// has the domain; a local account's acct is the bare username and the domain is taken
// from its profile url. Instances that serve a web domain other than their account
// domain (WEB_DOMAIN != LOCAL_DOMAIN) give their local accounts the web domain here.
func canonicalAcct(acct, username, profileURL string) (string, error) {
	acct = strings.TrimPrefix(strings.TrimSpace(acct), "@")
	if acct == "" {
		acct = strings.TrimSpace(username)
	}
	if acct == "" {
		return "", errors.New("account has no acct")
	}
	if user, domain, ok := strings.Cut(acct, "@"); ok {
		if user == "" || domain == "" || strings.Contains(domain, "@") {
			return "", fmt.Errorf("account acct %q is not user@domain", acct)
		}
		return user + "@" + strings.ToLower(domain), nil
	}
	u, err := url.Parse(profileURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("local account %q has no profile url to take its domain from", acct)
	}
	return acct + "@" + strings.ToLower(u.Hostname()), nil
}

// parseTime reads Mastodon's created_at: RFC 3339 with or without fractional seconds.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
