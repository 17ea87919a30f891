// Package tagscsv reads the CSV export of a TAGS Google Sheet (Twitter Archiving Google
// Sheet): one tweet per row, in v1.1 API terms, with "NA" or "" for empty cells. Rows
// become X posts with the same ids as the tweets from the API, so a tweet imported
// from TAGS and from an X archive collapses into one post.
package tagscsv

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Required are the columns a row cannot be used without.
var Required = []string{"id_str", "from_user", "from_user_id_str", "text", "created_at"}

// Row is one record of the file.
type Row struct {
	Line int        // line of the file the row starts on (the header is line 1)
	Raw  []byte     // the row's bytes as in the file
	Post *post.Post // nil when Err is set
	Err  error
}

// Reader reads a TAGS export row by row.
type Reader struct {
	src    post.Source
	cr     *csv.Reader
	tee    *teeBuffer
	cols   map[string]int
	header []string
	end    int64 // input offset where the last row ended
}

// NewReader reads the header line; it fails when the input is not a TAGS export.
func NewReader(r io.Reader, src post.Source) (*Reader, error) {
	tee := &teeBuffer{r: r}
	cr := csv.NewReader(tee)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("TAGS CSV: empty input, no header line")
		}
		return nil, fmt.Errorf("TAGS CSV header: %w", err)
	}
	rd := &Reader{src: src, cr: cr, tee: tee, cols: map[string]int{}}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		rd.header = append(rd.header, h)
		if _, dup := rd.cols[h]; !dup {
			rd.cols[h] = i
		}
	}
	var missing []string
	for _, c := range Required {
		if _, ok := rd.cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("TAGS CSV: header lacks column(s) %s (found %s): is this a TAGS archive export?",
			strings.Join(missing, ", "), strings.Join(rd.header, ","))
	}
	rd.end = cr.InputOffset()
	tee.discard(rd.end)
	return rd, nil
}

// Next returns the next row, or io.EOF after the last. A row that cannot be used comes
// back with Err set and its Raw bytes; other errors are from reading the input.
func (r *Reader) Next() (Row, error) {
	rec, err := r.cr.Read()
	if err == io.EOF {
		return Row{}, io.EOF
	}
	var pe *csv.ParseError
	if err != nil && !errors.As(err, &pe) {
		return Row{}, fmt.Errorf("TAGS CSV: %w", err)
	}
	start := r.end
	r.end = r.cr.InputOffset()
	row := Row{Raw: bytes.TrimRight(r.tee.slice(start, r.end), "\r\n")}
	row.Raw = append([]byte(nil), row.Raw...)
	r.tee.discard(r.end)
	if pe != nil {
		row.Line = pe.StartLine
		row.Err = fmt.Errorf("TAGS CSV: %w", pe)
		return row, nil
	}
	row.Line, _ = r.cr.FieldPos(0)
	row.Post, row.Err = r.parse(rec)
	if row.Post != nil {
		if _, err := post.Usable([]*post.Post{row.Post}); err != nil {
			row.Post, row.Err = nil, err
		}
	}
	return row, nil
}

// cell returns the value of column name, "" for NA or a missing column.
func (r *Reader) cell(rec []string, name string) string {
	i, ok := r.cols[name]
	if !ok || i >= len(rec) {
		return ""
	}
	v := strings.TrimSpace(rec[i])
	if v == "NA" {
		return ""
	}
	return v
}

func (r *Reader) parse(rec []string) (*post.Post, error) {
	if len(rec) != len(r.header) {
		return nil, fmt.Errorf("row has %d cells, the header %d", len(rec), len(r.header))
	}
	id := r.cell(rec, "id_str")
	if !validID(id) {
		return nil, fmt.Errorf("id_str %q is not a tweet id (a spreadsheet may have rounded it; export ids as text)", id)
	}
	userID := r.cell(rec, "from_user_id_str")
	if !validID(userID) {
		return nil, fmt.Errorf("tweet %s: from_user_id_str %q is not a user id", id, userID)
	}
	created, err := time.Parse(xapi.TimeLayoutV1, r.cell(rec, "created_at"))
	if err != nil {
		// The time column is sheet-local time labelled UTC, up to an hour off: not a substitute.
		return nil, fmt.Errorf("tweet %s: created_at %q: want %q", id, r.cell(rec, "created_at"), xapi.TimeLayoutV1)
	}
	handle := strings.TrimPrefix(r.cell(rec, "from_user"), "@")
	text := xapi.PlainText(r.cell(rec, "text"))
	p := &post.Post{
		ID:        xapi.PostID(id),
		Source:    r.src,
		Author:    post.Account{ID: xapi.AccountID(userID), Handle: handle},
		CreatedAt: created,
		Text:      text,
		URL:       xapi.StatusURL(handle, id),
	}
	if n, err := strconv.ParseUint(r.cell(rec, "user_followers_count"), 10, 64); err == nil {
		p.Author.Followers = n
	}
	if v := r.cell(rec, "in_reply_to_status_id_str"); validID(v) {
		p.ReplyToID = xapi.PostID(v)
	}
	if v := r.cell(rec, "in_reply_to_user_id_str"); validID(v) {
		p.ReplyToAuthorID = xapi.AccountID(v)
	}
	var ents xapi.V1Entities
	haveEnts := false
	if es := r.cell(rec, "entities_str"); es != "" {
		haveEnts = json.Unmarshal([]byte(es), &ents) == nil
	}
	if haveEnts {
		ents.Apply(p)
	} else {
		extract(p, text)
	}
	if strings.HasPrefix(text, "RT @") {
		// TAGS does not keep the retweeted tweet's id; its author is the mention
		// right after "RT ", when the entities name it.
		p.Kind = post.KindRepost
		if haveEnts {
			p.RepostOfAuthorID = ents.RetweetAuthor(text)
		}
	}
	p.Raw = r.rawJSON(rec)
	p.Normalize()
	return p, nil
}

// rawJSON keeps the row as a JSON object of its non-empty cells, header names as keys,
// so the post can be derived again without the header.
func (r *Reader) rawJSON(rec []string) []byte {
	m := map[string]string{}
	for i, h := range r.header {
		if i < len(rec) && rec[i] != "" && rec[i] != "NA" {
			if _, dup := m[h]; !dup {
				m[h] = rec[i]
			}
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func validID(id string) bool {
	if id == "" || len(id) > 20 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var (
	hashtagRE = regexp.MustCompile(`(?:^|[^\p{L}\p{M}\p{N}_&])[#＃]([\p{L}\p{M}\p{N}_]+)`)
	mentionRE = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_@])[@＠]([A-Za-z0-9_]{1,15})\b`)
	urlRE     = regexp.MustCompile(`https?://[^\s]+`)
)

// extract finds hashtags, mentions and links in text, for rows without entities_str.
// Mentions found this way have a handle but no account id.
func extract(p *post.Post, text string) {
	seen := map[string]bool{}
	for _, m := range hashtagRE.FindAllStringSubmatch(text, -1) {
		tag := post.NormalizeTag(m[1])
		if strings.IndexFunc(tag, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 || seen[tag] {
			continue // all digits is not a hashtag on X
		}
		seen[tag] = true
		p.Hashtags = append(p.Hashtags, tag)
	}
	for _, m := range mentionRE.FindAllStringSubmatch(text, -1) {
		dup := false
		for _, a := range p.Mentions {
			dup = dup || strings.EqualFold(a.Handle, m[1])
		}
		if !dup {
			p.Mentions = append(p.Mentions, post.Account{Handle: m[1]})
		}
	}
	for _, u := range urlRE.FindAllString(text, -1) {
		if strings.HasSuffix(u, "…") {
			continue // cut off with the text
		}
		u = strings.TrimRight(u, `.,;:!?)"'`)
		dup := false
		for _, x := range p.URLs {
			dup = dup || x == u
		}
		if !dup {
			p.URLs = append(p.URLs, u)
		}
	}
}

// teeBuffer keeps what the CSV reader has read past the last finished row, so each
// row's exact bytes can be handed back.
type teeBuffer struct {
	r    io.Reader
	buf  []byte
	base int64 // input offset of buf[0]
}

// MaxRowBytes bounds the header line and each row: a file without line breaks (or one
// endless quoted cell) fails with an error instead of filling memory.
const MaxRowBytes = post.MaxLineBytes

// errRowTooLong stops the CSV reader; buf holds what the current row read so far.
var errRowTooLong = fmt.Errorf("TAGS CSV: a row (or the header) is over %d bytes: is this a TAGS archive export?", MaxRowBytes)

func (t *teeBuffer) Read(p []byte) (int, error) {
	left := MaxRowBytes + 64<<10 - len(t.buf) // the CSV reader reads a little ahead
	if left <= 0 {
		return 0, errRowTooLong
	}
	n, err := t.r.Read(p[:min(len(p), left)])
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

func (t *teeBuffer) slice(from, to int64) []byte {
	lo, hi := from-t.base, to-t.base
	if lo < 0 || hi > int64(len(t.buf)) || lo > hi {
		return nil
	}
	return t.buf[lo:hi]
}

func (t *teeBuffer) discard(upTo int64) {
	n := upTo - t.base
	if n <= 0 {
		return
	}
	if n > int64(len(t.buf)) {
		n = int64(len(t.buf))
	}
	t.buf = append(t.buf[:0], t.buf[n:]...)
	t.base += n
}
