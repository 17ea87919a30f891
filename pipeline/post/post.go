// Package post holds the canonical post: the one shape every source is turned into
// before it is published to NATS, and the wire encoding used on the posts stream.
package post

import (
	"net/url"
	"slices"
	"strings"

	"time"

	"golang.org/x/text/unicode/norm"
)

// Source says which ingestor a post came through.
type Source string

const (
	SourceX        Source = "x"
	SourceMastodon Source = "mastodon"
	SourceBluesky  Source = "bluesky"
	SourceImport   Source = "import"
	SourceSim      Source = "sim"
)

// Kind is what a post does in the conversation.
type Kind string

const (
	KindOriginal Kind = "original"
	KindReply    Kind = "reply"
	KindRepost   Kind = "repost"
	KindQuote    Kind = "quote"
)

// Account is a participant as a network knows it.
//
// ID is network-qualified and stable across instances and renames:
// "x:<user id>", "mastodon:<user@domain>", "bluesky:<did>", "sim:<handle>".
// Handle has no leading "@".
type Account struct {
	ID        string `json:"id,omitempty"` // empty for a mention known only by handle
	Handle    string `json:"handle,omitempty"`
	Name      string `json:"name,omitempty"`
	Followers uint64 `json:"followers,omitempty"` // as seen at ingest time; 0 when unknown
	// Bio is the profile description as plain text (Mastodon note, Bluesky profile
	// description, X user description), "" when the source did not say. Only the
	// author's is filled; the processor turns it into segments and does not store it.
	Bio string `json:"bio,omitempty"`
	// VerifiedLinks are the profile links the network verified (Mastodon fields with
	// verified_at): evidence that this account and the site's owner are one person.
	VerifiedLinks []string `json:"verified_links,omitempty"`
	// Consent holds the account's consent signals when the source showed its profile.
	Consent *Consent `json:"consent,omitempty"`
}

// Consent are the signals an account's profile gives about being collected.
type Consent struct {
	// NoIndex: Mastodon "noindex": true, or the Bluesky self-label !no-unauthenticated.
	// Such accounts are treated as opted out.
	NoIndex bool `json:"noindex,omitempty"`
	// Indexable: Mastodon "indexable": true (the account allows search indexing);
	// communities with consent: strict require it.
	Indexable bool `json:"indexable,omitempty"`
}

// Post is the canonical post.
//
// ID is network-qualified and the same whichever ingestor saw it, so an archive import
// and a live poll of the same tweet collapse into one row:
// "x:<tweet id>", "mastodon:<status uri>", "bluesky:<at uri>", "sim:<id>".
type Post struct {
	ID        string    `json:"id"`
	Source    Source    `json:"source"`
	Community string    `json:"community"`
	Kind      Kind      `json:"kind"`
	Author    Account   `json:"author"`
	CreatedAt time.Time `json:"created_at"` // UTC, millisecond precision
	Text      string    `json:"text"`       // plain text; HTML from sources is already converted
	Lang      string    `json:"lang,omitempty"`
	URL       string    `json:"url,omitempty"` // link to the original

	ReplyToID       string `json:"reply_to_id,omitempty"`
	ReplyToAuthorID string `json:"reply_to_author_id,omitempty"`
	RootID          string `json:"root_id,omitempty"` // conversation / thread root when the source knows it

	QuoteOfID        string `json:"quote_of_id,omitempty"`
	QuoteOfAuthorID  string `json:"quote_of_author_id,omitempty"`
	RepostOfID       string `json:"repost_of_id,omitempty"`
	RepostOfAuthorID string `json:"repost_of_author_id,omitempty"`

	Mentions []Account `json:"mentions,omitempty"`
	Hashtags []string  `json:"hashtags,omitempty"` // folded with NormalizeTag, no "#"
	URLs     []string  `json:"urls,omitempty"`

	// Raw is the source payload, kept so posts can be derived again later.
	Raw []byte `json:"raw,omitempty"`
}

// MsgID is the JetStream de-duplication id of a single-post message: the same post
// published twice for the same community is stored once.
func (p *Post) MsgID() string { return p.Community + "|" + p.ID }

// Network is the network part of the post id ("x", "mastodon", "bluesky", "sim"):
// where the post lives, whichever ingestor brought it.
func (p *Post) Network() string {
	network, _, _ := strings.Cut(p.ID, ":")
	return network
}

// Normalize puts the fields in canonical form: UTC millisecond time, folded hashtags,
// only http(s) URLs (a status "url" of "=HYPERLINK(…)" or "javascript:…" is dropped: it is
// no link, and exports and the page treat urls as links), and the kind implied by the
// references when the source did not say.
func (p *Post) Normalize() {
	if !WebURL(p.URL) {
		p.URL = ""
	}
	if slices.ContainsFunc(p.URLs, notWebURL) {
		p.URLs = slices.DeleteFunc(slices.Clone(p.URLs), notWebURL)
	}
	// Mastodon copies of one status that disagree on milliseconds are made to agree
	// where they are parsed (mastodon.Times), so the milliseconds are kept.
	p.CreatedAt = p.CreatedAt.UTC().Truncate(time.Millisecond)
	for i, t := range p.Hashtags {
		p.Hashtags[i] = NormalizeTag(t)
	}
	if p.Kind == "" {
		switch {
		case p.RepostOfID != "":
			p.Kind = KindRepost
		case p.QuoteOfID != "":
			p.Kind = KindQuote
		case p.ReplyToID != "":
			p.Kind = KindReply
		default:
			p.Kind = KindOriginal
		}
	}
}

// WebURL reports whether s is an absolute http or https URL with a host.
func WebURL(s string) bool {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && rest != ""
}

func notWebURL(s string) bool { return !WebURL(s) }

// NormalizeTag folds a hashtag for matching: Unicode compatibility composition (NFKC:
// full-width "ＨＣＬＤＲ" is "HCLDR", "cafe" with a combining accent is "café"), lower
// case, no white space (NFKC turns some signs into a space and a combining mark), no
// leading "#" or "＃". "#ＨＣＬＤＲ" and "#hcldr" are the same chat. Applying it twice
// gives the same tag.
func NormalizeTag(tag string) string {
	if foldedASCII(tag) {
		return tag // the common case, already folded: skip the Unicode work
	}
	// Each step can undo another's work (removing a space lets marks compose, folding
	// case can decompose), so fold until nothing changes; it settles in one or two rounds.
	for range 4 {
		folded := foldTag(tag)
		if folded == tag {
			break
		}
		tag = folded
	}
	return tag
}

// foldedASCII reports a tag of lower-case ASCII letters, digits and '_' only, which
// folding leaves as it is.
func foldedASCII(tag string) bool {
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func foldTag(tag string) string {
	tag = strings.ToLower(norm.NFKC.String(tag))
	tag = norm.NFKC.String(strings.Join(strings.Fields(tag), ""))
	return strings.TrimLeft(tag, "#") // NFKC made "＃" a "#"
}
