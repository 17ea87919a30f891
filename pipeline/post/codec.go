package post

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// A posts-stream message body is JSON Lines: one canonical post per line. Live
// ingestors send one post per message; bulk paths (import, simulator, bench) send many
// per message to go past JetStream's message rate, with a stable batch id as Nats-Msg-Id.

// Encode appends the wire form of posts to dst.
func Encode(dst []byte, posts ...*Post) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	for _, p := range posts {
		if err := enc.Encode(p); err != nil {
			return nil, fmt.Errorf("encode post %q: %w", abbrev(p.ID), err)
		}
	}
	return buf.Bytes(), nil
}

// BadLine is a line of a message body that is not a valid post.
type BadLine struct {
	Line int    // 1-based line number within the message
	Raw  []byte // the line as received
	Err  error
}

// Decode splits a message body into posts and bad lines. A bad line never hides the
// good posts around it.
func Decode(body []byte) (posts []*Post, bad []BadLine) {
	line := 0
	for len(body) > 0 {
		var raw []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			raw, body = body[:i], body[i+1:]
		} else {
			raw, body = body, nil
		}
		line++
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if len(raw) > MaxLineBytes {
			bad = append(bad, BadLine{Line: line, Raw: raw, Err: fmt.Errorf("post line of %d bytes is over the %d-byte limit", len(raw), MaxLineBytes)})
			continue
		}
		if !utf8.Valid(raw) {
			bad = append(bad, BadLine{Line: line, Raw: raw, Err: fmt.Errorf("post line is not valid UTF-8")})
			continue
		}
		p := new(Post)
		if err := json.Unmarshal(raw, p); err != nil {
			bad = append(bad, BadLine{Line: line, Raw: raw, Err: fmt.Errorf("decode post: %w", err)})
			continue
		}
		if err := p.Validate(); err != nil {
			bad = append(bad, BadLine{Line: line, Raw: raw, Err: err})
			continue
		}
		p.Normalize()
		posts = append(posts, p)
	}
	return posts, bad
}

// Limits on what a post may carry. Posts over them are refused by Validate and, on the
// posts stream, parked on the dead-letter stream with the reason: they are hostile or
// broken input, not chat, and would cost the tables and the viewers more than they show.
const (
	// MaxLineBytes bounds one encoded post, Raw included.
	MaxLineBytes = 2 << 20
	// MaxTextBytes bounds the text: X allows 25,000 characters to paying accounts,
	// Mastodon instances commonly 500 to 5,000.
	MaxTextBytes = 64 << 10
	// MaxIDBytes bounds ids, handles, names and URLs.
	MaxIDBytes = 2048
	// MaxMentions, MaxHashtags and MaxURLs bound the lists of a post (X caps a tweet at
	// 50 mentions; the margin is for other networks).
	MaxMentions = 256
	MaxHashtags = 256
	MaxURLs     = 256
	// MaxBioBytes bounds an author's bio (Mastodon notes are the longest, about 500
	// characters of text in HTML); MaxVerifiedLinks their verified profile links
	// (Mastodon allows 4 fields, some instances more).
	MaxBioBytes      = 16 << 10
	MaxVerifiedLinks = 16
	// MaxClockSkew is how far in the future created_at may be: sources' clocks run ahead.
	MaxClockSkew = 24 * time.Hour
)

// MinCreatedAt is the earliest created_at accepted, the Unix epoch: earlier times are
// broken clocks or broken parsers (and year 1 or 1600 do not fit ClickHouse's DateTime64).
// A source that knows better clamps a post's time itself, as the Bluesky parser does.
var MinCreatedAt = time.Unix(0, 0).UTC()

// Validate reports what makes a post unusable, with the clock at now.
func (p *Post) Validate() error { return p.ValidateAt(time.Now()) }

// ValidateAt reports what makes a post unusable when the time is now: missing or
// malformed identity, an unknown source, a time before MinCreatedAt or more than
// MaxClockSkew after now, a NUL byte or oversized field, too many mentions, hashtags
// or URLs, invalid UTF-8 in the source record or the text.
func (p *Post) ValidateAt(now time.Time) error {
	if err := p.validateIdentity(); err != nil {
		return err
	}
	if err := p.validateSizes(); err != nil {
		return err
	}
	switch {
	case p.CreatedAt.Before(MinCreatedAt):
		return fmt.Errorf("post %q: created_at %s is before %s", abbrev(p.ID), p.CreatedAt.UTC().Format(time.RFC3339), MinCreatedAt.Format(time.RFC3339))
	case p.CreatedAt.After(now.Add(MaxClockSkew)):
		return fmt.Errorf("post %q: created_at %s is more than %v in the future", abbrev(p.ID), p.CreatedAt.UTC().Format(time.RFC3339), MaxClockSkew)
	}
	return nil
}

func (p *Post) validateSizes() error {
	switch {
	case len(p.Text) > MaxTextBytes:
		return fmt.Errorf("post %q: text of %d bytes is over the %d-byte limit", abbrev(p.ID), len(p.Text), MaxTextBytes)
	case len(p.Mentions) > MaxMentions:
		return fmt.Errorf("post %q: %d mentions are over the limit of %d", abbrev(p.ID), len(p.Mentions), MaxMentions)
	case len(p.Hashtags) > MaxHashtags:
		return fmt.Errorf("post %q: %d hashtags are over the limit of %d", abbrev(p.ID), len(p.Hashtags), MaxHashtags)
	case len(p.URLs) > MaxURLs:
		return fmt.Errorf("post %q: %d urls are over the limit of %d", abbrev(p.ID), len(p.URLs), MaxURLs)
	case strings.IndexByte(p.Text, 0) >= 0:
		return fmt.Errorf("post %q: text contains a NUL byte", abbrev(p.ID))
	case len(p.Author.Bio) > MaxBioBytes:
		return fmt.Errorf("post %q: author bio of %d bytes is over the %d-byte limit", abbrev(p.ID), len(p.Author.Bio), MaxBioBytes)
	case strings.IndexByte(p.Author.Bio, 0) >= 0:
		return fmt.Errorf("post %q: author bio contains a NUL byte", abbrev(p.ID))
	case len(p.Author.VerifiedLinks) > MaxVerifiedLinks:
		return fmt.Errorf("post %q: %d verified links are over the limit of %d", abbrev(p.ID), len(p.Author.VerifiedLinks), MaxVerifiedLinks)
	case !utf8.Valid(p.Raw) || !utf8.ValidString(p.Text) || !utf8.ValidString(p.Author.Name) || !utf8.ValidString(p.Author.Handle) || !utf8.ValidString(p.Author.Bio):
		// JSON decoding turns invalid bytes into U+FFFD without a word; the source record
		// still has them, and the README promises a dead letter, never a rewrite.
		return fmt.Errorf("post %q: the source record is not valid UTF-8", abbrev(p.ID))
	}
	check := func(name, v string) error {
		if len(v) > MaxIDBytes {
			return fmt.Errorf("post %q: %s of %d bytes is over the %d-byte limit", abbrev(p.ID), name, len(v), MaxIDBytes)
		}
		if strings.ContainsFunc(v, isControl) {
			return fmt.Errorf("post %q: %s contains a control character", abbrev(p.ID), name)
		}
		return nil
	}
	for _, f := range [...]struct{ name, v string }{
		{"id", p.ID}, {"author.id", p.Author.ID}, {"author.handle", p.Author.Handle}, {"author.name", p.Author.Name},
		{"lang", p.Lang}, {"url", p.URL}, {"reply_to_id", p.ReplyToID}, {"reply_to_author_id", p.ReplyToAuthorID},
		{"root_id", p.RootID}, {"quote_of_id", p.QuoteOfID}, {"quote_of_author_id", p.QuoteOfAuthorID},
		{"repost_of_id", p.RepostOfID}, {"repost_of_author_id", p.RepostOfAuthorID},
	} {
		if err := check(f.name, f.v); err != nil {
			return err
		}
	}
	for _, u := range p.Author.VerifiedLinks {
		if err := check("author.verified_links", u); err != nil {
			return err
		}
	}
	for _, m := range p.Mentions {
		for _, v := range [...]string{m.ID, m.Handle, m.Name} {
			if err := check("mention", v); err != nil {
				return err
			}
		}
	}
	for _, h := range p.Hashtags {
		if err := check("hashtag", h); err != nil {
			return err
		}
	}
	for _, u := range p.URLs {
		if err := check("urls", u); err != nil {
			return err
		}
	}
	return nil
}

func (p *Post) validateIdentity() error {
	switch {
	case p.ID == "":
		return fmt.Errorf("post has no id")
	case p.Community == "":
		return fmt.Errorf("post %q has no community", abbrev(p.ID))
	case p.Author.ID == "":
		return fmt.Errorf("post %q has no author id", abbrev(p.ID))
	case p.CreatedAt.IsZero():
		return fmt.Errorf("post %q has no created_at", abbrev(p.ID))
	case !validCommunity(p.Community):
		return fmt.Errorf("post %q: %w", abbrev(p.ID), ValidCommunity(p.Community))
	}
	switch p.Source {
	case SourceX, SourceMastodon, SourceBluesky, SourceImport, SourceSim:
	default:
		return fmt.Errorf("post %q has unknown source %q", abbrev(p.ID), p.Source)
	}
	return nil
}

// isControl reports C0 and C1 control characters (NUL, escape, bidi-free controls):
// they have no place in identifiers, handles or URLs.
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

// ValidCommunity reports whether id can be a community id: ids become NATS subject
// tokens and table keys, so they are 1-64 lower-case letters, digits, '-' or '_', and
// start with a letter or digit.
func ValidCommunity(id string) error {
	if !validCommunity(id) {
		return fmt.Errorf("community id %q: use 1-64 lower-case letters, digits, '-' or '_'", abbrev(id))
	}
	return nil
}

func validCommunity(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// abbrev keeps hostile values from flooding error messages and logs.
func abbrev(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Usable normalizes what a parser made and keeps the posts that will validate once
// they are given a community; the others are reported in err. Parsers end with it, so
// a source never hands on a post the pipeline would refuse: the record is parked
// instead.
func Usable(posts []*Post) ([]*Post, error) {
	kept := posts[:0]
	var errs []error
	for _, p := range posts {
		p.Normalize()
		check := *p
		if check.Community == "" {
			check.Community = "c" // the community is checked where it is set
		}
		if err := check.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		kept = append(kept, p)
	}
	return kept, errors.Join(errs...)
}
