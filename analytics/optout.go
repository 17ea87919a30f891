package analytics

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/live"
	"github.com/chatnight/chatnight/storage"
)

// PseudonymPrefix starts every pseudonym.
const PseudonymPrefix = "participant-"

// OptOuts is the opt-out list in chatnight.optouts, with a cached Redactor for the
// read paths. Adding or removing an account never touches its posts.
type OptOuts struct {
	conn driver.Conn
	// TTL is how long Get trusts the cached list; default 2s.
	TTL time.Duration
	log *slog.Logger

	mu       sync.Mutex // serializes loads
	cur      atomic.Pointer[Redactor]
	loadedAt atomic.Int64 // unix nanoseconds of the cached load
}

// NewOptOuts reads and writes the list through conn.
func NewOptOuts(conn driver.Conn, log *slog.Logger) *OptOuts {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &OptOuts{conn: conn, TTL: 2 * time.Second, log: log}
}

// Subject normalizes a handle or account id as stored: lower case, without a leading
// '@'. It returns an error for an empty or unreasonable value.
func Subject(s string) (string, error) {
	s = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@"))
	if s == "" || len(s) > 256 || strings.ContainsAny(s, " \t\r\n") {
		return "", fmt.Errorf("opt-out: %q is not a handle or account id", s)
	}
	return s, nil
}

// Add opts subject (a handle, with or without '@', or an account id) out.
func (o *OptOuts) Add(ctx context.Context, subject string) error { return o.set(ctx, subject, 0) }

// Remove opts subject back in.
func (o *OptOuts) Remove(ctx context.Context, subject string) error { return o.set(ctx, subject, 1) }

func (o *OptOuts) set(ctx context.Context, subject string, deleted uint8) error {
	s, err := Subject(subject)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if err := o.conn.Exec(ctx, insertOptOut, s, deleted, now, uint64(now.UnixNano())); err != nil {
		return fmt.Errorf("write opt-out of %q: %w", s, err)
	}
	o.loadedAt.Store(0) // the next Get reloads
	return nil
}

// List returns the opted-out subjects, sorted.
func (o *OptOuts) List(ctx context.Context) ([]string, error) {
	var rows []struct {
		Subject string `ch:"subject"`
	}
	if err := o.conn.Select(ctx, &rows, queryOptOuts); err != nil {
		return nil, fmt.Errorf("read opt-outs: %w", err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Subject
	}
	return out, nil
}

// Load reads the list and the pseudonym salt, resolves opted-out handles to the
// account ids that posted under them, and caches the result.
func (o *OptOuts) Load(ctx context.Context) (*Redactor, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	subjects, err := o.List(ctx)
	if err != nil {
		return nil, err
	}
	salt, err := o.salt(ctx)
	if err != nil {
		return nil, err
	}
	r := &Redactor{salt: salt, ids: map[string]bool{}, handles: map[string]string{}}
	if len(subjects) > 0 {
		var rows []struct {
			AuthorID string `ch:"author_id"`
			Handle   string `ch:"last_handle"`
		}
		ctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"subjects": storage.ArrayParam(subjects)}))
		if err := o.conn.Select(ctx, &rows, queryOptOutAccounts); err != nil {
			return nil, fmt.Errorf("resolve opted-out handles: %w", err)
		}
		for _, s := range subjects {
			r.ids[s] = true
			if !strings.Contains(s, ":") {
				r.handles[s] = ""
			}
		}
		for _, row := range rows {
			r.ids[strings.ToLower(row.AuthorID)] = true
			if h := strings.ToLower(row.Handle); h != "" {
				r.handles[h] = row.AuthorID
			}
		}
		for h, id := range r.handles {
			if id == "" {
				id = h
			}
			r.handles[h] = r.Pseudonym(id)
		}
		r.compile()
	}
	o.cur.Store(r)
	o.loadedAt.Store(time.Now().UnixNano())
	return r, nil
}

// salt reads the pseudonym salt, creating it the first time.
func (o *OptOuts) salt(ctx context.Context) (string, error) {
	for attempt := 0; attempt < 2; attempt++ {
		var salt string
		if err := o.conn.QueryRow(ctx, querySalt).Scan(&salt); err != nil {
			return "", fmt.Errorf("read pseudonym salt: %w", err)
		}
		if salt != "" {
			return salt, nil
		}
		b := make([]byte, 16)
		rand.Read(b)
		if err := o.conn.Exec(ctx, insertSalt, hex.EncodeToString(b), time.Now().UTC()); err != nil {
			return "", fmt.Errorf("create pseudonym salt: %w", err)
		}
	}
	return "", errors.New("pseudonym salt: not readable after creating it")
}

// Get returns the cached Redactor, reloading it when older than TTL.
func (o *OptOuts) Get(ctx context.Context) (*Redactor, error) {
	if r := o.cur.Load(); r != nil && time.Since(time.Unix(0, o.loadedAt.Load())) < o.TTL {
		return r, nil
	}
	return o.Load(ctx)
}

// Cached returns the last loaded Redactor without reading ClickHouse (nil before the
// first load; a nil Redactor hides nothing).
func (o *OptOuts) Cached() *Redactor { return o.cur.Load() }

// Run reloads the list every TTL until ctx ends, so that Cached stays fresh for the
// live feed. Failures are logged and retried on the next tick.
func (o *OptOuts) Run(ctx context.Context) {
	t := time.NewTicker(o.TTL)
	defer t.Stop()
	for {
		if _, err := o.Load(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("reading the opt-out list failed; keeping the previous one", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

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
