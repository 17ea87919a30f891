package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/lru"
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

const (
	pageLimit       = 40 // the most a tag timeline page holds
	maxPagesPerPoll = 50 // then the next poll goes on from the saved cursor
	refCacheSize    = 20000
	lookupsPerPage  = 20 // parent lookups per page, so replies cannot eat the rate limit
	minRemaining    = 30 // keep this much of the rate limit for the timeline itself

	// DefaultInterval is how often a Poller reads its tag timeline.
	DefaultInterval = 30 * time.Second
	// DefaultLookback is how far before the cursor each poll reads again. Mastodon
	// gives a federated status an id from its creation time, so one that arrives late
	// sorts before statuses already seen; re-reading a short window catches it, and
	// JetStream drops the repeats by message id.
	DefaultLookback = 2 * time.Minute
)

// PollerConfig configures the polling of one hashtag on one instance.
type PollerConfig struct {
	BaseURL     string // the instance, e.g. https://mastodon.social
	Tag         string // the hashtag, with or without '#'
	AccessToken string // optional; sent as a Bearer token to BaseURL only, never logged

	// Communities are the candidates posts are routed to by their hashtags.
	Communities []community.Community

	Interval time.Duration // between polls; 0 means DefaultInterval
	Lookback time.Duration // 0 means DefaultLookback; negative turns it off

	Cursors    *ingest.Cursors
	Metrics    *ingest.Metrics // the Emitter's; nil makes unregistered ones
	Log        *slog.Logger    // nil discards
	HTTPClient *http.Client    // nil uses a client with a 30 s timeout
	// Times, shared by the sources of a process, makes copies of one status from
	// several instances carry one time; nil gives the poller its own.
	Times *Times
}

// timesCacheSize bounds the status times a process remembers.
const timesCacheSize = 100000

// Poller is an ingest.Source reading GET /api/v1/timelines/tag/:tag of one instance.
//
// Each poll asks for the statuses after the cursor (min_id) and follows the Link
// header's rel="prev" page by page until a page is empty. After each page it flushes
// the Emitter and saves the cursor: the newest status id seen on the instance, under
// "mastodon.<host>.<tag>". A first run without a cursor reads only the newest page.
type Poller struct {
	cfg    PollerConfig
	c      *client
	key    string
	cursor string
	loaded bool
	refs   *lru.Cache[string, Ref] // local status id -> uri and author; URI "" = not found

	polledHour time.Time      // the hour last put on record as polled
	recent     []recentStatus // published statuses waiting for their recheck (recheck.go)
	parser     Parser
}

// NewPoller checks cfg and returns the source.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	base, err := url.Parse(strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("mastodon instance %q: use a URL such as https://mastodon.social (sources.mastodon.instances[].base_url)", cfg.BaseURL)
	}
	base.Path, base.RawQuery, base.Fragment = strings.TrimRight(base.Path, "/"), "", ""
	cfg.Tag = post.NormalizeTag(cfg.Tag)
	if cfg.Tag == "" {
		return nil, errors.New("mastodon poller needs a hashtag")
	}
	if cfg.Cursors == nil {
		return nil, errors.New("mastodon poller needs the cursor store")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Lookback == 0 {
		cfg.Lookback = DefaultLookback
	}
	cfg.Metrics, cfg.Log = ingest.Defaults(cfg.Metrics, cfg.Log)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	p := &Poller{
		cfg: cfg,
		c: &client{
			base: base, token: cfg.AccessToken, http: cfg.HTTPClient,
			log: cfg.Log, metrics: cfg.Metrics, remaining: -1,
			sleep: backoff.Sleep, now: time.Now,
			backoff: backoff.Backoff{Min: time.Second, Max: 5 * time.Minute},
		},
		key:  CursorKey(base.Host, cfg.Tag),
		refs: lru.New[string, Ref](refCacheSize),
	}
	if cfg.Times == nil {
		cfg.Times = NewTimes(timesCacheSize)
	}
	p.parser = Parser{Lookup: p.refs.Get, Time: cfg.Times.Canonical}
	return p, nil
}

// CursorKey is the cursor of a tag on an instance: "mastodon.<host>.<tag>", with
// characters the KV store refuses replaced by '_'.
func CursorKey(host, tag string) string {
	return "mastodon." + keySafe(strings.ToLower(host)) + "." + keySafe(post.NormalizeTag(tag))
}

func keySafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '=':
			return r
		}
		return '_'
	}, s)
}

// Name identifies the source in logs.
func (p *Poller) Name() string { return "mastodon:" + p.c.base.Host + "#" + p.cfg.Tag }

// Run polls until ctx is done. It returns an error only when the instance refuses
// the request in a way retrying cannot fix (401, 403, 404, 422).
func (p *Poller) Run(ctx context.Context, em *ingest.Emitter) error {
	for {
		if err := p.poll(ctx, em); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := p.recheck(ctx, em); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.cfg.Log.Warn("mastodon recheck of stored statuses failed; trying again next poll", "source", p.Name(), "err", err)
		}
		if err := p.c.sleep(ctx, p.cfg.Interval); err != nil {
			return nil
		}
	}
}

// poll reads every page after the cursor. Transient failures are retried inside; the
// error is final or ctx's.
func (p *Poller) poll(ctx context.Context, em *ingest.Emitter) error {
	if !p.loaded {
		cur, err := p.cfg.Cursors.Get(ctx, p.key)
		if err != nil {
			return p.retryLater(ctx, err)
		}
		p.cursor, p.loaded = cur, true
	}
	first := p.cursor == ""
	u := p.pageURL(p.requestMinID())
	for page := 0; page < maxPagesPerPoll; page++ {
		body, hdr, err := p.c.get(ctx, u, true)
		if err != nil {
			if ctx.Err() == nil {
				p.instanceError(ctx, em, err.Error())
			}
			return p.final(err)
		}
		var statuses []json.RawMessage
		if err := json.Unmarshal(body, &statuses); err != nil {
			// Not a page at all (a proxy's error page): try again next poll.
			p.cfg.Metrics.Errors.WithLabelValues("mastodon").Inc()
			p.cfg.Log.Warn("mastodon tag timeline is not a JSON array", "source", p.Name(), "err", err)
			p.instanceError(ctx, em, "answer is not a JSON array: "+err.Error())
			return nil
		}
		if page == 0 {
			p.polled(ctx, em)
		}
		if len(statuses) == 0 {
			return nil
		}
		newest, err := p.emitPage(ctx, em, statuses, u)
		if err != nil {
			return p.retryLater(ctx, err)
		}
		prev := linkRel(hdr, "prev")
		if q, err := url.Parse(prev); err == nil {
			newest = maxID(newest, q.Query().Get("min_id"))
		}
		if err := p.commit(ctx, em, newest); err != nil {
			return p.retryLater(ctx, err)
		}
		if first {
			return nil // a first run starts at the newest page, not at the beginning of time
		}
		u = p.nextURL(prev)
	}
	return nil
}

// polled puts on record that the instance answered a poll: one event per instance, tag
// and hour (repeats in the hour are the same event), so a researcher can list which
// instances were read when.
func (p *Poller) polled(ctx context.Context, em *ingest.Emitter) {
	hour := p.c.now().UTC().Truncate(time.Hour)
	if hour.Equal(p.polledHour) {
		return
	}
	p.polledHour = hour
	em.Completeness(ctx, steward.Event{Source: "mastodon", From: hour, To: hour.Add(time.Hour), Kind: steward.KindInstancePolled,
		Detail: p.c.base.Host + " #" + p.cfg.Tag})
}

// instanceError puts an instance's failed answer on record.
func (p *Poller) instanceError(ctx context.Context, em *ingest.Emitter, why string) {
	now := p.c.now()
	em.Completeness(ctx, steward.Event{Source: "mastodon", From: now, To: now, Kind: steward.KindInstanceError,
		Detail: p.c.base.Host + " #" + p.cfg.Tag + ": " + why, Count: 1})
}

// final turns a request error into Run's answer: ctx's end, or a final refusal.
func (p *Poller) final(err error) error {
	var se *statusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusUnauthorized, http.StatusForbidden:
			if p.cfg.AccessToken == "" {
				return fmt.Errorf("%s: %w (the instance wants an access token: set access_token_env for it)", p.Name(), err)
			}
			return fmt.Errorf("%s: %w (the access token was refused: check the variable named by access_token_env)", p.Name(), err)
		default:
			return fmt.Errorf("%s: %w (is %s a Mastodon instance?)", p.Name(), err, p.c.base.String())
		}
	}
	return err
}

// retryLater logs a NATS-side failure (publish, flush, cursor) and waits; the page is
// read again from the unchanged cursor.
func (p *Poller) retryLater(ctx context.Context, err error) error {
	p.cfg.Metrics.Errors.WithLabelValues("mastodon").Inc()
	p.cfg.Log.Warn("mastodon poll interrupted, retrying", "source", p.Name(), "err", err)
	return p.c.sleep(ctx, p.c.backoff.Next())
}

// emitPage parses and publishes a page (newest first, as Mastodon sends it) oldest
// first, and returns the newest status id in it.
func (p *Poller) emitPage(ctx context.Context, em *ingest.Emitter, statuses []json.RawMessage, origin string) (string, error) {
	heads := make([]statusHead, len(statuses))
	for i, raw := range statuses {
		heads[i] = headOf(raw)
		p.remember(heads[i])
	}
	p.resolveParents(ctx, heads)
	newest := ""
	for i := len(statuses) - 1; i >= 0; i-- {
		newest = maxID(newest, string(heads[i].ID))
		where := fmt.Sprintf("%s status id %s", redact(origin), heads[i].ID)
		if err := p.emit(ctx, em, statuses[i], where); err != nil {
			return "", err
		}
		p.noteRecent(heads[i])
	}
	return newest, nil
}

// emit parses one status and routes its posts; an unusable status is dead-lettered.
func (p *Poller) emit(ctx context.Context, em *ingest.Emitter, raw []byte, origin string) error {
	posts, err := p.parser.Parse(raw, post.SourceMastodon)
	if err != nil {
		em.Invalid(ctx, "mastodon", origin, raw, err)
		return nil
	}
	for _, ps := range posts {
		if _, err := em.PostTo(ctx, ps, p.cfg.Communities, false); err != nil {
			return err
		}
	}
	return nil
}

// commit makes everything published so far durable, then moves the cursor.
func (p *Poller) commit(ctx context.Context, em *ingest.Emitter, newest string) error {
	if err := em.Flush(ctx); err != nil {
		return err
	}
	if next := maxID(p.cursor, newest); next != p.cursor {
		if err := p.cfg.Cursors.Put(ctx, p.key, next); err != nil {
			return err
		}
		p.cursor = next
	}
	return nil
}

// statusHead is what the poller needs of a status before parsing it.
type statusHead struct {
	ID          localID  `json:"id"`
	URI         string   `json:"uri"`
	InReplyToID localID  `json:"in_reply_to_id"`
	Account     *Account `json:"account"`
	Reblog      *struct {
		ID      localID  `json:"id"`
		URI     string   `json:"uri"`
		Account *Account `json:"account"`
	} `json:"reblog"`
}

func headOf(raw []byte) statusHead {
	var h statusHead
	_ = json.Unmarshal(raw, &h) // a broken status is dead-lettered when parsed
	return h
}

// remember records the local ids of a status (and of the status it reblogs), so a
// reply to it is resolved without a request.
func (p *Poller) remember(h statusHead) { h.refs(p.refs.Put) }

// refs hands put the local id and Ref of the status and of the status it reblogs.
func (h statusHead) refs(put func(id string, ref Ref)) {
	note := func(id localID, uri string, a *Account) {
		if id == "" || uri == "" {
			return
		}
		ref := Ref{URI: uri}
		if a != nil {
			ref.Acct, _ = canonicalAcct(a.Acct, a.Username, a.URL)
		}
		put(string(id), ref)
	}
	note(h.ID, h.URI, h.Account)
	if h.Reblog != nil {
		note(h.Reblog.ID, h.Reblog.URI, h.Reblog.Account)
	}
}

// Index maps the local ids of statuses read from one instance to their uri and
// author, so replies in an archive can be linked to parents in the same file.
type Index map[string]Ref

// Add records a status (and the status it reblogs).
func (ix Index) Add(raw []byte) { headOf(raw).refs(func(id string, ref Ref) { ix[id] = ref }) }

// Lookup is a Parser.Lookup.
func (ix Index) Lookup(localID string) (Ref, bool) {
	ref, ok := ix[localID]
	return ref, ok
}

// resolveParents looks up, on the polled instance, parents of replies that are not
// in the cache: GET /api/v1/statuses/:id. It is best effort: a few per page, only
// while the rate limit has room, never retried; an unknown parent leaves the reply
// without ReplyToID.
func (p *Poller) resolveParents(ctx context.Context, heads []statusHead) {
	budget := lookupsPerPage
	for _, h := range heads {
		id := string(h.InReplyToID)
		if id == "" || !validLocalID(id) {
			continue
		}
		if _, ok := p.refs.Get(id); ok {
			continue
		}
		if budget == 0 || (p.c.remaining >= 0 && p.c.remaining < minRemaining) {
			return
		}
		budget--
		body, _, err := p.c.get(ctx, p.c.base.String()+"/api/v1/statuses/"+url.PathEscape(id), false)
		var se *statusError
		switch {
		case errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusGone):
			p.refs.Put(id, Ref{}) // deleted or private: do not ask again
			continue
		case err != nil:
			p.cfg.Log.Debug("mastodon parent lookup failed", "source", p.Name(), "err", err)
			continue
		}
		h := headOf(body)
		if h.URI == "" {
			p.refs.Put(id, Ref{})
			continue
		}
		p.remember(h)
		if string(h.ID) != id {
			p.refs.Put(id, Ref{URI: h.URI})
		}
	}
}

// validLocalID keeps lookups to plain ids (Mastodon's digits, other servers' ULIDs
// and flake ids), so an id cannot walk the URL path.
func validLocalID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (p *Poller) pageURL(minID string) string {
	q := url.Values{"limit": {strconv.Itoa(pageLimit)}}
	if minID != "" {
		q.Set("min_id", minID)
	}
	return p.c.base.String() + "/api/v1/timelines/tag/" + url.PathEscape(p.cfg.Tag) + "?" + q.Encode()
}

// nextURL follows the rel="prev" link when it stays on the instance, and otherwise
// builds the page after the cursor itself.
func (p *Poller) nextURL(prev string) string {
	if u, err := url.Parse(prev); err == nil && prev != "" && sameHost(u, p.c.base) &&
		strings.Contains(u.Path, "/api/v1/timelines/tag/") && u.Query().Get("min_id") != "" {
		return prev
	}
	return p.pageURL(p.cursor)
}

// requestMinID is the cursor moved back by the lookback window when it is a Mastodon
// snowflake id (milliseconds since the epoch in the bits above the low 16).
func (p *Poller) requestMinID() string {
	if p.cursor == "" || p.cfg.Lookback < 0 {
		return p.cursor
	}
	n, err := strconv.ParseUint(p.cursor, 10, 64)
	if err != nil {
		return p.cursor // not a Mastodon id (GoToSocial ULIDs, Pleroma flake ids)
	}
	ms := int64(n >> 16)
	created := time.UnixMilli(ms)
	if created.Before(snowflakeEpoch) || created.After(p.c.now().Add(24*time.Hour)) {
		return p.cursor
	}
	back := ms - p.cfg.Lookback.Milliseconds()
	return strconv.FormatUint(uint64(back)<<16, 10)
}

// snowflakeEpoch: Mastodon switched to time-based ids in 2017; smaller ids are old
// sequential ones that carry no time.
var snowflakeEpoch = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)

func maxID(a, b string) string {
	if ingest.CompareIDs(a, b) >= 0 {
		return a
	}
	return b
}
