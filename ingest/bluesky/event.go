// Package bluesky reads Bluesky: ParseEvent turns a Jetstream v1 event into canonical
// posts, Jetstream follows the firehose and keeps what carries a community hashtag,
// Profiles resolves DIDs to handles, and Search backfills through
// app.bsky.feed.searchPosts with an app password.
//
// Posts are keyed "bluesky:<at-uri>" and accounts "bluesky:<did>", so a post seen on
// the firehose and again by search is one post.
package bluesky

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// Collections chatnight reads.
const (
	CollectionPost   = "app.bsky.feed.post"
	CollectionRepost = "app.bsky.feed.repost"
)

// Event is a Jetstream v1 event.
type Event struct {
	DID      string    `json:"did"`
	TimeUS   int64     `json:"time_us"`
	Kind     string    `json:"kind"` // "commit", "identity" or "account"
	Commit   *Commit   `json:"commit"`
	Identity *Identity `json:"identity"`
}

// Commit is a record operation in a repository.
type Commit struct {
	Rev        string          `json:"rev"`
	Operation  string          `json:"operation"` // "create", "update" or "delete"
	Collection string          `json:"collection"`
	RKey       string          `json:"rkey"`
	Record     json.RawMessage `json:"record"`
	CID        string          `json:"cid"`
}

// Identity announces an account's (new) handle.
type Identity struct {
	DID    string `json:"did"`
	Handle string `json:"handle"`
	Seq    int64  `json:"seq"`
	Time   string `json:"time"`
}

// Time is the event's Jetstream time (time_us), zero when it has none.
func (e *Event) Time() time.Time {
	if e.TimeUS <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(e.TimeUS).UTC()
}

// IsCreate reports whether the event creates a record in collection.
func (e *Event) IsCreate(collection string) bool {
	return e.Kind == "commit" && e.Commit != nil && e.Commit.Operation == "create" && e.Commit.Collection == collection
}

// DecodeEvent reads the envelope of a Jetstream event.
func DecodeEvent(raw []byte) (*Event, error) {
	ev := new(Event)
	if err := json.Unmarshal(raw, ev); err != nil {
		return nil, fmt.Errorf("decode jetstream event: %w", err)
	}
	if ev.Kind == "" {
		return nil, errors.New("jetstream event has no kind")
	}
	return ev, nil
}

// Profile is what is known of an account beyond its DID.
type Profile struct {
	Handle      string
	Name        string
	Followers   uint64
	Description string // the profile's bio, plain text
	// NoUnauthenticated: the profile carries the self-label !no-unauthenticated (the
	// account asked not to be shown to logged-out viewers); chatnight treats it as opted out.
	NoUnauthenticated bool
	// LabelsKnown says the profile's labels were read (getProfile), so
	// NoUnauthenticated is a signal and not just unknown.
	LabelsKnown bool
}

// fill sets what pr knows of the account on a.
func (pr Profile) fill(a *post.Account) {
	if pr.Handle != "" {
		a.Handle = pr.Handle
	}
	a.Name, a.Followers, a.Bio = pr.Name, pr.Followers, pr.Description
	if pr.LabelsKnown {
		a.Consent = &post.Consent{NoIndex: pr.NoUnauthenticated}
	}
}

// Parser turns events into posts. The zero Parser is ParseEvent.
type Parser struct {
	// Profile returns what is cached about an account; nil or unknown leaves the
	// handle equal to the DID. The Jetstream source fills it from identity events
	// and app.bsky.actor.getProfile.
	Profile func(did string) (Profile, bool)
}

// DeletionOf returns the deletion an event reports: a delete commit of a post or a
// repost. Other events give false.
func DeletionOf(ev *Event) (steward.Deletion, bool) {
	if ev.Kind != "commit" || ev.Commit == nil || ev.Commit.Operation != "delete" ||
		(ev.Commit.Collection != CollectionPost && ev.Commit.Collection != CollectionRepost) {
		return steward.Deletion{}, false
	}
	uri, err := eventURI(ev)
	if err != nil {
		return steward.Deletion{}, false
	}
	return steward.Deletion{PostID: PostID(uri), Source: string(post.SourceBluesky), Reason: "jetstream delete", At: ev.Time()}, true
}

// ParseEvent turns a Jetstream v1 event into posts: the creation of an
// app.bsky.feed.post gives a post, of an app.bsky.feed.repost a repost. Every other
// event (deletes, likes, follows, identity, account) gives (nil, nil). Community is
// left empty for the caller to route. It is pure.
func ParseEvent(raw []byte, source post.Source) ([]*post.Post, error) {
	return Parser{}.ParseEvent(raw, source)
}

// ParseEvent is ParseEvent with the parser's profile cache.
func (ps Parser) ParseEvent(raw []byte, source post.Source) ([]*post.Post, error) {
	ev, err := DecodeEvent(raw)
	if err != nil {
		return nil, err
	}
	return ps.Posts(ev, raw, source)
}

// Posts converts an event decoded by DecodeEvent; raw is kept as the posts' Raw. A
// post the pipeline would refuse (see post.Usable) is an error.
func (ps Parser) Posts(ev *Event, raw []byte, source post.Source) ([]*post.Post, error) {
	posts, err := ps.posts(ev, raw, source)
	if err != nil {
		return nil, err
	}
	return post.Usable(posts)
}

func (ps Parser) posts(ev *Event, raw []byte, source post.Source) ([]*post.Post, error) {
	switch {
	case ev.IsCreate(CollectionPost):
		p, err := ps.postEvent(ev, raw, source)
		if err != nil {
			return nil, err
		}
		return []*post.Post{p}, nil
	case ev.IsCreate(CollectionRepost):
		p, err := ps.repostEvent(ev, raw, source)
		if err != nil {
			return nil, err
		}
		return []*post.Post{p}, nil
	}
	return nil, nil
}

func (ps Parser) postEvent(ev *Event, raw []byte, source post.Source) (*post.Post, error) {
	uri, err := eventURI(ev)
	if err != nil {
		return nil, err
	}
	var rec postRecord
	if err := json.Unmarshal(ev.Commit.Record, &rec); err != nil {
		return nil, fmt.Errorf("post %s: decode record: %w", uri, err)
	}
	return ps.postFromRecord(uri, ev.DID, ev.Commit.RKey, &rec, ev.Time(), raw, source)
}

func (ps Parser) repostEvent(ev *Event, raw []byte, source post.Source) (*post.Post, error) {
	uri, err := eventURI(ev)
	if err != nil {
		return nil, err
	}
	var rec struct {
		Subject   strongRef `json:"subject"`
		CreatedAt string    `json:"createdAt"`
	}
	if err := json.Unmarshal(ev.Commit.Record, &rec); err != nil {
		return nil, fmt.Errorf("repost %s: decode record: %w", uri, err)
	}
	subj, err := ParseATURI(rec.Subject.URI)
	if err != nil || subj.Collection != CollectionPost {
		return nil, fmt.Errorf("repost %s: subject %q is not a post", uri, rec.Subject.URI)
	}
	p := &post.Post{
		ID:               PostID(uri),
		Source:           source,
		Kind:             post.KindRepost,
		Author:           ps.account(ev.DID, ""),
		CreatedAt:        recordTime(rec.CreatedAt, ev.Time()),
		URL:              PostURL(subj.Authority, subj.RKey),
		RepostOfID:       PostID(rec.Subject.URI),
		RepostOfAuthorID: authorIDOf(subj),
		Raw:              clone(raw),
	}
	if p.CreatedAt.IsZero() {
		return nil, fmt.Errorf("repost %s: createdAt %q is not a time", uri, rec.CreatedAt)
	}
	p.Normalize()
	return p, nil
}

// postRecord is an app.bsky.feed.post record.
type postRecord struct {
	Text      string   `json:"text"`
	CreatedAt string   `json:"createdAt"`
	Langs     []string `json:"langs"`
	Reply     *struct {
		Root   strongRef `json:"root"`
		Parent strongRef `json:"parent"`
	} `json:"reply"`
	Facets []facet          `json:"facets"`
	Tags   []string         `json:"tags"`
	Embed  *json.RawMessage `json:"embed"`
}

type strongRef struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

// facet annotates text[ByteStart:ByteEnd]: offsets count UTF-8 bytes, not runes.
type facet struct {
	Index struct {
		ByteStart int `json:"byteStart"`
		ByteEnd   int `json:"byteEnd"`
	} `json:"index"`
	Features []struct {
		Type string `json:"$type"`
		DID  string `json:"did"` // #mention
		Tag  string `json:"tag"` // #tag
		URI  string `json:"uri"` // #link
	} `json:"features"`
}

// embed is the part of the embed union chatnight reads.
type embed struct {
	Type   string          `json:"$type"`
	Record json.RawMessage `json:"record"` // embed.record: strongRef; recordWithMedia: embed.record
	// embed.external
	External *struct {
		URI string `json:"uri"`
	} `json:"external"`
}

// postFromRecord builds a post from a post record; indexed bounds createdAt (the
// event or index time), raw becomes Raw.
func (ps Parser) postFromRecord(uri, did, rkey string, rec *postRecord, indexed time.Time, raw []byte, source post.Source) (*post.Post, error) {
	created := recordTime(rec.CreatedAt, indexed)
	if created.IsZero() {
		return nil, fmt.Errorf("post %s: createdAt %q is not a time", uri, rec.CreatedAt)
	}
	if !utf8.ValidString(rec.Text) {
		return nil, fmt.Errorf("post %s: text is not UTF-8", uri)
	}
	p := &post.Post{
		ID:        PostID(uri),
		Source:    source,
		Author:    ps.account(did, ""),
		CreatedAt: created,
		Text:      rec.Text,
		URL:       PostURL(did, rkey),
		Raw:       clone(raw),
	}
	if len(rec.Langs) > 0 {
		p.Lang = rec.Langs[0]
	}
	if rec.Reply != nil {
		if parent, err := ParseATURI(rec.Reply.Parent.URI); err == nil {
			p.ReplyToID = PostID(rec.Reply.Parent.URI)
			p.ReplyToAuthorID = authorIDOf(parent)
		}
		if _, err := ParseATURI(rec.Reply.Root.URI); err == nil {
			p.RootID = PostID(rec.Reply.Root.URI)
		}
	}

	tags := newSet()
	mentions := newSet()
	urls := newSet()
	for _, f := range rec.Facets {
		for _, ft := range f.Features {
			switch ft.Type {
			case "app.bsky.richtext.facet#mention":
				if !validDID(ft.DID) || !mentions.add(ft.DID) {
					continue
				}
				p.Mentions = append(p.Mentions, ps.account(ft.DID, mentionHandle(rec.Text, f)))
			case "app.bsky.richtext.facet#tag":
				tags.add(post.NormalizeTag(ft.Tag))
			case "app.bsky.richtext.facet#link":
				if isWebURL(ft.URI) {
					urls.add(ft.URI)
				}
			}
		}
	}
	for _, t := range rec.Tags {
		tags.add(post.NormalizeTag(t))
	}
	for _, t := range TextHashtags(rec.Text) {
		tags.add(t)
	}
	p.Hashtags = tags.list()

	if rec.Embed != nil {
		quote, ext := readEmbed(*rec.Embed)
		if quote != "" {
			if q, err := ParseATURI(quote); err == nil && q.Collection == CollectionPost {
				p.QuoteOfID = PostID(quote)
				p.QuoteOfAuthorID = authorIDOf(q)
			}
		}
		if isWebURL(ext) {
			urls.add(ext)
		}
	}
	p.URLs = urls.list()
	p.Normalize()
	return p, nil
}

// readEmbed returns the uri of an embedded record (a quote when it is a post) and the
// uri of an external link card.
func readEmbed(raw json.RawMessage) (record, external string) {
	var e embed
	if json.Unmarshal(raw, &e) != nil {
		return "", ""
	}
	switch e.Type {
	case "app.bsky.embed.record":
		var r strongRef
		if json.Unmarshal(e.Record, &r) == nil {
			record = r.URI
		}
	case "app.bsky.embed.recordWithMedia":
		var inner struct {
			Record strongRef `json:"record"`
		}
		if json.Unmarshal(e.Record, &inner) == nil {
			record = inner.Record.URI
		}
	case "app.bsky.embed.external":
		if e.External != nil {
			external = e.External.URI
		}
	}
	return record, external
}

// mentionHandle reads the handle a mention facet covers ("@alice.bsky.social"), or "".
func mentionHandle(text string, f facet) string {
	s, e := f.Index.ByteStart, f.Index.ByteEnd
	if s < 0 || e > len(text) || s >= e {
		return ""
	}
	h := strings.TrimSpace(text[s:e])
	if !strings.HasPrefix(h, "@") {
		return ""
	}
	h = h[1:]
	if !validHandle(h) {
		return ""
	}
	return strings.ToLower(h)
}

// account names did with the best handle known: the cache's, else hint, else the DID.
func (ps Parser) account(did, hint string) post.Account {
	a := post.Account{ID: AccountID(did), Handle: did}
	if hint != "" {
		a.Handle = hint
	}
	if ps.Profile != nil {
		if pr, ok := ps.Profile(did); ok {
			pr.fill(&a)
		}
	}
	return a
}

// TextHashtags finds hashtags in post text the way Bluesky's apps detect them: '#' or
// '＃' at the start or after whitespace, up to the next whitespace, trailing
// punctuation dropped, not only digits, at most 64 characters. They come folded.
func TextHashtags(text string) []string {
	var out []string
	prevSpace := true
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if (r == '#' || r == '＃') && prevSpace {
			j := i + n
			for j < len(text) {
				r2, n2 := utf8.DecodeRuneInString(text[j:])
				if unicode.IsSpace(r2) || tagBreak(r2) {
					break
				}
				j += n2
			}
			tag := strings.TrimRightFunc(text[i+n:j], unicode.IsPunct)
			if ok := tagOK(tag); ok {
				out = append(out, post.NormalizeTag(tag))
			}
			i, prevSpace = j, false
			continue
		}
		prevSpace = unicode.IsSpace(r)
		i += n
	}
	return out
}

func tagBreak(r rune) bool {
	switch r {
	case '\u00AD', '\u2060', '\u200A', '\u200B', '\u200C', '\u200D', '\u20e2':
		return true
	}
	return false
}

func tagOK(tag string) bool {
	if tag == "" || strings.HasPrefix(tag, "\ufe0f") || utf8.RuneCountInString(tag) > 64 {
		return false
	}
	for _, r := range tag {
		if !unicode.IsDigit(r) && !unicode.IsPunct(r) {
			return true
		}
	}
	return false
}

// ATURI is a parsed at:// URI of a record.
type ATURI struct {
	Authority  string // a DID (or, rarely, a handle)
	Collection string
	RKey       string
}

// ParseATURI parses at://<authority>/<collection>/<rkey>.
func ParseATURI(s string) (ATURI, error) {
	rest, ok := strings.CutPrefix(s, "at://")
	if !ok {
		return ATURI{}, fmt.Errorf("%q is not an at:// uri", s)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return ATURI{}, fmt.Errorf("%q is not an at://<repo>/<collection>/<rkey> uri", s)
	}
	for _, p := range parts {
		if strings.ContainsAny(p, " \t\r\n?#") {
			return ATURI{}, fmt.Errorf("%q has a malformed segment", s)
		}
	}
	return ATURI{Authority: parts[0], Collection: parts[1], RKey: parts[2]}, nil
}

// RecordURI is the at:// uri of a record.
func RecordURI(did, collection, rkey string) string {
	return "at://" + did + "/" + collection + "/" + rkey
}

// PostID is the canonical id of the record at uri.
func PostID(uri string) string { return "bluesky:" + uri }

// AccountID is the canonical id of the account with did.
func AccountID(did string) string { return "bluesky:" + did }

// PostURL links to a post on bsky.app.
func PostURL(did, rkey string) string {
	return "https://bsky.app/profile/" + did + "/post/" + rkey
}

func eventURI(ev *Event) (string, error) {
	if !validDID(ev.DID) {
		return "", fmt.Errorf("event has no valid did (%q)", ev.DID)
	}
	if ev.Commit.RKey == "" || strings.ContainsAny(ev.Commit.RKey, "/ ") {
		return "", fmt.Errorf("event of %s has no valid rkey", ev.DID)
	}
	return RecordURI(ev.DID, ev.Commit.Collection, ev.Commit.RKey), nil
}

func authorIDOf(u ATURI) string {
	if validDID(u.Authority) {
		return AccountID(u.Authority)
	}
	return ""
}

func validDID(s string) bool {
	rest, ok := strings.CutPrefix(s, "did:")
	if !ok || len(s) > 2048 {
		return false
	}
	method, id, ok := strings.Cut(rest, ":")
	if !ok || method == "" || id == "" {
		return false
	}
	return !strings.ContainsAny(s, " \t\r\n/?#")
}

func validHandle(h string) bool {
	if len(h) < 3 || len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// recordTime reads a record's createdAt. Clients write RFC 3339 with or without
// fractional seconds and with "Z" or "+00:00"; a few omit the zone, taken as UTC. A
// time later than bound (when the relay saw the record) is the client's clock running
// ahead and is replaced by bound, as Bluesky's AppView does. An unreadable time falls
// back to bound, and is zero only when bound is.
func recordTime(s string, bound time.Time) time.Time {
	s = strings.TrimSpace(s)
	var t time.Time
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			t = v
			break
		}
	}
	switch {
	case t.IsZero():
		t = bound
	case !bound.IsZero() && t.After(bound):
		t = bound
	}
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// set keeps insertion order and drops repeats and empty strings.
type set struct {
	seen  map[string]bool
	items []string
}

func newSet() *set { return &set{seen: map[string]bool{}} }

func (s *set) add(v string) bool {
	if v == "" || s.seen[v] {
		return false
	}
	s.seen[v] = true
	s.items = append(s.items, v)
	return true
}

func (s *set) list() []string { return s.items }
