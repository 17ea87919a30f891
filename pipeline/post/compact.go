package post

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// The compact encoding carries posts between chatnight's own processes: ingestors,
// import and simulator publish it through bus.Publisher, and the processor decodes it
// about ten times faster than JSON, with one allocation per message for all its
// strings. A message says it is compact with the Chatnight-Encoding header
// (EncodingCompactV1); a body without the header is JSON Lines, which stays the format
// for external publishers (see Encode).
//
// The layout, all integers varints (encoding/binary):
//
//	body   = record*
//	record = uvarint(len(fields)) fields
//	fields = base tail
//	base   = str(id) str(source) str(community) str(kind)
//	         account(author) varint(created_at seconds) uvarint(created_at nanoseconds)
//	         str(text) str(lang) str(url) str(reply_to_id) str(reply_to_author_id)
//	         str(root_id) str(quote_of_id) str(quote_of_author_id) str(repost_of_id)
//	         str(repost_of_author_id) uvarint(n) account*n uvarint(n) str*n (hashtags)
//	         uvarint(n) str*n (urls) str(raw)
//	bio    = str(author bio) uvarint(n) str*n (author verified links)
//	consent = uvarint(the author's consent signals: 0 none shown, else
//	          1 | 2 if noindex | 4 if indexable)
//	account = str(id) str(handle) str(name) uvarint(followers)
//	str    = uvarint(len) bytes
//
// Every version ever published, and its tail; all of them still decode, since a
// JetStream stream on disk may hold any:
//
//	compact/1  nothing, or bio (releases that carried bios kept the name; nothing
//	           else ever followed raw, so what remains tells the two apart)
//	compact/2  consent (consent signals, before bios were carried)
//	compact/3  bio consent (what EncodeCompact writes)
//
// Each record is framed by its length, so a broken record is parked alone and the
// records after it still decode. A new layout gets a new version name.

// Encodings of a posts-stream body, as the Chatnight-Encoding header names them.
const (
	EncodingJSON      = ""          // JSON Lines (no header): external publishers
	EncodingCompactV1 = "compact/1" // base, with or without bio
	EncodingCompactV2 = "compact/2" // base, consent
	EncodingCompactV3 = "compact/3" // base, bio, consent

	// EncodingCompact is the version EncodeCompact writes.
	EncodingCompact = EncodingCompactV3
)

// EncodeCompact appends the compact form of posts to dst.
func EncodeCompact(dst []byte, posts ...*Post) []byte {
	var rec []byte
	for _, p := range posts {
		rec = appendFields(rec[:0], p)
		dst = binary.AppendUvarint(dst, uint64(len(rec)))
		dst = append(dst, rec...)
	}
	return dst
}

func appendFields(b []byte, p *Post) []byte {
	return appendConsent(appendBio(appendBase(b, p), &p.Author), p.Author.Consent)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBase(b []byte, p *Post) []byte {
	str := func(s string) { b = appendStr(b, s) }
	account := func(a *Account) {
		str(a.ID)
		str(a.Handle)
		str(a.Name)
		b = binary.AppendUvarint(b, a.Followers)
	}
	str(p.ID)
	str(string(p.Source))
	str(p.Community)
	str(string(p.Kind))
	account(&p.Author)
	b = binary.AppendVarint(b, p.CreatedAt.Unix())
	b = binary.AppendUvarint(b, uint64(p.CreatedAt.Nanosecond()))
	for _, s := range [...]string{p.Text, p.Lang, p.URL, p.ReplyToID, p.ReplyToAuthorID, p.RootID,
		p.QuoteOfID, p.QuoteOfAuthorID, p.RepostOfID, p.RepostOfAuthorID} {
		str(s)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Mentions)))
	for i := range p.Mentions {
		account(&p.Mentions[i])
	}
	b = binary.AppendUvarint(b, uint64(len(p.Hashtags)))
	for _, h := range p.Hashtags {
		str(h)
	}
	b = binary.AppendUvarint(b, uint64(len(p.URLs)))
	for _, u := range p.URLs {
		str(u)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Raw)))
	return append(b, p.Raw...)
}

// appendBio appends the author's bio and verified links, which segments and people
// derive from, so the internal encoding carries them as JSON does.
func appendBio(b []byte, a *Account) []byte {
	b = appendStr(b, a.Bio)
	b = binary.AppendUvarint(b, uint64(len(a.VerifiedLinks)))
	for _, l := range a.VerifiedLinks {
		b = appendStr(b, l)
	}
	return b
}

func appendConsent(b []byte, c *Consent) []byte {
	var consent uint64
	if c != nil {
		consent = 1
		if c.NoIndex {
			consent |= 2
		}
		if c.Indexable {
			consent |= 4
		}
	}
	return binary.AppendUvarint(b, consent)
}

// DecodeAs decodes a body in the named encoding; an encoding it does not know makes
// the whole body one bad line, which says so.
func DecodeAs(encoding string, body []byte) ([]*Post, []BadLine) {
	switch encoding {
	case EncodingJSON:
		return Decode(body)
	case EncodingCompactV1:
		return decodeCompact(body, 1)
	case EncodingCompactV2:
		return decodeCompact(body, 2)
	case EncodingCompactV3:
		return decodeCompact(body, 3)
	}
	return nil, []BadLine{{Line: 1, Raw: body, Err: fmt.Errorf("unknown posts encoding %q (this version reads JSON Lines and %q to %q)", abbrev(encoding), EncodingCompactV1, EncodingCompactV3)}}
}

// DecodeCompact splits a compact body into posts and bad records (Line is the
// record's 1-based number). Every post passes Validate and is normalized, as Decode's.
// A record whose length runs past the body ends the body as one bad record.
func DecodeCompact(body []byte) (posts []*Post, bad []BadLine) {
	return decodeCompact(body, 3)
}

// decodeCompact decodes a body of the compact layout version.
func decodeCompact(body []byte, version int) (posts []*Post, bad []BadLine) {
	all := string(body) // one copy; the posts' strings are slices of it
	for n, off := 1, 0; off < len(all); n++ {
		size, w := binary.Uvarint(body[off:])
		if w <= 0 || size > uint64(len(all)-off-w) {
			bad = append(bad, BadLine{Line: n, Raw: body[off:], Err: errors.New("decode compact post: record length runs past the message")})
			break
		}
		start, end := off+w, off+w+int(size)
		off = end
		if size > MaxLineBytes {
			bad = append(bad, BadLine{Line: n, Raw: body[start:end], Err: fmt.Errorf("post record of %d bytes is over the %d-byte limit", size, MaxLineBytes)})
			continue
		}
		p, err := decodeFields(all[start:end], version)
		if err == nil {
			err = p.Validate()
		}
		if err != nil {
			bad = append(bad, BadLine{Line: n, Raw: body[start:end], Err: err})
			continue
		}
		p.Normalize()
		posts = append(posts, p)
	}
	return posts, bad
}

// fieldReader reads the fields of one record; the first error sticks.
type fieldReader struct {
	s   string
	err error
}

func (r *fieldReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var v uint64
	var shift uint
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			r.s = r.s[i+1:]
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	r.err = errors.New("decode compact post: bad or truncated number")
	return 0
}

func (r *fieldReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// raw returns the next length-prefixed bytes, unchecked.
func (r *fieldReader) raw() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)) {
		r.err = errors.New("decode compact post: a field runs past its record")
		return ""
	}
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

// str is raw for text, which must be UTF-8 as JSON would make it.
func (r *fieldReader) str() string {
	v := r.raw()
	if r.err == nil && !utf8.ValidString(v) {
		r.err = errors.New("decode compact post: a text field is not valid UTF-8")
	}
	return v
}

// count reads a list length, bounded by the list's limit so that a hostile length
// allocates nothing big.
func (r *fieldReader) count(what string, limit int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(limit) {
		r.err = fmt.Errorf("decode compact post: %d %s are over the limit of %d", n, what, limit)
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (r *fieldReader) account(a *Account) {
	a.ID, a.Handle, a.Name, a.Followers = r.str(), r.str(), r.str(), r.uvarint()
}

// bio reads the author's bio and verified links.
func (r *fieldReader) bio(a *Account) {
	a.Bio = r.str()
	if n := r.count("verified links", MaxURLs); n > 0 {
		a.VerifiedLinks = make([]string, n)
		for i := range a.VerifiedLinks {
			a.VerifiedLinks[i] = r.str()
		}
	}
}

func decodeFields(s string, version int) (*Post, error) {
	r := &fieldReader{s: s}
	p := &Post{}
	p.ID, p.Source, p.Community, p.Kind = r.str(), Source(r.str()), r.str(), Kind(r.str())
	r.account(&p.Author)
	sec, nsec := r.varint(), r.uvarint()
	if r.err == nil && nsec >= 1e9 {
		r.err = errors.New("decode compact post: created_at nanoseconds out of range")
	}
	if r.err == nil {
		p.CreatedAt = time.Unix(sec, int64(nsec)).UTC()
	}
	p.Text, p.Lang, p.URL = r.str(), r.str(), r.str()
	p.ReplyToID, p.ReplyToAuthorID, p.RootID = r.str(), r.str(), r.str()
	p.QuoteOfID, p.QuoteOfAuthorID, p.RepostOfID, p.RepostOfAuthorID = r.str(), r.str(), r.str(), r.str()
	if n := r.count("mentions", MaxMentions); n > 0 {
		p.Mentions = make([]Account, n)
		for i := range p.Mentions {
			r.account(&p.Mentions[i])
		}
	}
	if n := r.count("hashtags", MaxHashtags); n > 0 {
		p.Hashtags = make([]string, n)
		for i := range p.Hashtags {
			p.Hashtags[i] = r.str()
		}
	}
	if n := r.count("urls", MaxURLs); n > 0 {
		p.URLs = make([]string, n)
		for i := range p.URLs {
			p.URLs[i] = r.str()
		}
	}
	if raw := r.raw(); raw != "" {
		p.Raw = []byte(raw)
	}
	// What follows raw depends on the version (see the layouts above). A version 1
	// record ends at raw or, written by releases that carried bios under that name,
	// has the bio trailer: nothing else can follow raw there, so the two are told apart
	// by whether bytes remain.
	if version == 3 || (version == 1 && len(r.s) > 0) {
		r.bio(&p.Author)
	}
	if version >= 2 {
		if c := r.uvarint(); r.err == nil && c > 7 {
			r.err = fmt.Errorf("decode compact post: consent %d out of range", c)
		} else if c&1 != 0 {
			p.Author.Consent = &Consent{NoIndex: c&2 != 0, Indexable: c&4 != 0}
		}
	}
	if r.err == nil && len(r.s) > 0 {
		r.err = fmt.Errorf("decode compact post: %d bytes after the last field", len(r.s))
	}
	if r.err != nil {
		return nil, r.err
	}
	return p, nil
}
