// Package optout keeps the opt-out list in chatnight.optouts and the install's
// pseudonym salt, and reloads the Redactor the read paths use.
package optout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/redact"
)

// OptOuts is the opt-out list in chatnight.optouts, with a cached Redactor for the
// read paths. Adding or removing an account never touches its posts.
type OptOuts struct {
	conn driver.Conn
	// TTL is how long Get trusts the cached list; default 2s.
	TTL time.Duration
	// Strict lists the communities with consent: strict, where Mastodon accounts that
	// are not indexable: true are treated as opted out too.
	Strict []string
	log    *slog.Logger

	// OnChange, when set (before Run), is called after a load that found the list
	// different from the previous load's, so open pages can apply it.
	OnChange func()

	mu       sync.Mutex // serializes loads
	seen     string     // the list of the last load, joined; guarded by mu
	loaded   bool       // guarded by mu
	cur      atomic.Pointer[redact.Redactor]
	counts   atomic.Pointer[Counts]
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

// Seen reports whether subject (a handle or account id) wrote any stored post, so that
// opting out a misspelt handle can say it matches nothing yet.
func (o *OptOuts) Seen(ctx context.Context, subject string) (bool, error) {
	s, err := Subject(subject)
	if err != nil {
		return false, err
	}
	var seen bool
	if err := o.conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"subject": s})), querySeen).Scan(&seen); err != nil {
		return false, fmt.Errorf("look up %q in the stored posts: %w", s, err)
	}
	return seen, nil
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
func (o *OptOuts) Load(ctx context.Context) (*redact.Redactor, error) {
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
	var ids []string
	handles := map[string]string{}
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
			ids = append(ids, s)
			if !strings.Contains(s, ":") {
				handles[s] = ""
			}
		}
		for _, row := range rows {
			ids = append(ids, row.AuthorID)
			if h := strings.ToLower(row.Handle); h != "" {
				handles[h] = row.AuthorID
			}
		}
	}
	// Consent signals: noindex accounts are opted out everywhere; in strict communities
	// so are Mastodon accounts not indexable.
	var consent []struct {
		AccountID string `ch:"account_id"`
		Handle    string `ch:"handle"`
		NoIndex   uint8  `ch:"noindex"`
		Indexable uint8  `ch:"indexable"`
	}
	if err := o.conn.Select(ctx, &consent, queryConsent); err != nil {
		return nil, fmt.Errorf("read consent signals: %w", err)
	}
	strictIDs := append([]string(nil), ids...)
	strictHandles := maps.Clone(handles)
	for _, c := range consent {
		if c.NoIndex == 1 {
			ids = append(ids, c.AccountID)
			handles[strings.ToLower(c.Handle)] = c.AccountID
		}
		if c.NoIndex == 1 || (c.Indexable == 0 && strings.HasPrefix(c.AccountID, "mastodon:")) {
			strictIDs = append(strictIDs, c.AccountID)
			strictHandles[strings.ToLower(c.Handle)] = c.AccountID
		}
	}
	n := Counts{OptedOut: len(subjects)}
	for _, c := range consent {
		if c.NoIndex == 1 {
			n.NoIndex++
		} else {
			n.NotIndexable++
		}
	}
	o.counts.Store(&n)
	r := redact.NewRedactor(salt, ids, handles)
	if len(o.Strict) > 0 {
		r = r.WithStrict(redact.NewRedactor(salt, strictIDs, strictHandles), o.Strict)
	}
	o.cur.Store(r)
	o.loadedAt.Store(time.Now().UnixNano())
	sort.Strings(ids)
	list := strings.Join(ids, "\n")
	changed := o.loaded && list != o.seen
	o.seen, o.loaded = list, true
	if changed && o.OnChange != nil {
		o.OnChange()
	}
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

// Counts are how many accounts the last Load hid, by reason.
type Counts struct {
	OptedOut     int // on the opt-out list
	NoIndex      int // Mastodon noindex or Bluesky !no-unauthenticated: hidden everywhere
	NotIndexable int // Mastodon accounts not indexable: hidden in consent: strict communities
}

// Counts returns the counts of the last Load (zero before it).
func (o *OptOuts) Counts() Counts {
	if c := o.counts.Load(); c != nil {
		return *c
	}
	return Counts{}
}

// Get returns the cached Redactor, reloading it when older than TTL.
func (o *OptOuts) Get(ctx context.Context) (*redact.Redactor, error) {
	if r := o.cur.Load(); r != nil && time.Since(time.Unix(0, o.loadedAt.Load())) < o.TTL {
		return r, nil
	}
	return o.Load(ctx)
}

// Cached returns the last loaded Redactor without reading ClickHouse (nil before the
// first load; a nil Redactor hides nothing).
func (o *OptOuts) Cached() *redact.Redactor { return o.cur.Load() }

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

// Statements of the opt-out store; values are bound, never spliced.
const (
	insertOptOut = `INSERT INTO chatnight.optouts (subject, deleted, updated_at, version) VALUES (?, ?, ?, ?)`

	// querySeen tells whether a subject posted anything stored, as author id or handle.
	querySeen = `
SELECT count() > 0 AS seen
FROM chatnight.posts
WHERE lower(author_id) = {subject:String} OR lower(author_handle) = {subject:String}`

	queryOptOuts = `
SELECT subject
FROM chatnight.optouts FINAL
WHERE deleted = 0
ORDER BY subject`

	// queryOptOutAccounts resolves opted-out handles and ids to the accounts that
	// posted under them.
	queryOptOutAccounts = `
SELECT author_id, anyLast(handle) AS last_handle
FROM chatnight.participants_agg
WHERE lower(handle) IN {subjects:Array(String)} OR lower(author_id) IN {subjects:Array(String)}
GROUP BY author_id`

	// queryConsent lists accounts whose consent signals matter: noindex, or (for strict
	// communities) Mastodon accounts that are not indexable.
	queryConsent = `
SELECT account_id, handle, noindex, indexable
FROM chatnight.account_consent FINAL
WHERE noindex = 1 OR (indexable = 0 AND startsWith(account_id, 'mastodon:'))`

	querySalt  = `SELECT argMin(salt, created_at) FROM chatnight.pseudonym_salt`
	insertSalt = `INSERT INTO chatnight.pseudonym_salt (salt, created_at) VALUES (?, ?)`
)
