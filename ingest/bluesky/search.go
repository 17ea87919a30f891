package bluesky

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

const (
	searchPageLimit      = 100
	defaultSearchEvery   = 10 * time.Minute
	defaultSearchBack    = 24 * time.Hour
	defaultSearchPages   = 20
	searchOverlap        = 10 * time.Minute // each run re-reads this much before its cursor
	maxSearchBody        = 16 << 20
	maxSearchRateLimitWt = 15 * time.Minute
)

// SearchConfig configures the searchPosts backfill.
type SearchConfig struct {
	PDSURL      string // where the account logs in and searches; "" is DefaultPDSURL
	Identifier  string // handle or DID of the account
	AppPassword string // an app password; never logged

	// Communities whose hashtags are searched and to which results are routed.
	Communities []community.Community

	Interval time.Duration // between runs; 0 is 10 min
	Lookback time.Duration // how far back a run without a cursor reads; 0 is 24 h
	MaxPages int           // per hashtag per run; 0 is 20

	Cursors    *ingest.Cursors
	Profiles   *Profiles // optional: authors seen in results are cached
	Metrics    *ingest.Metrics
	Log        *slog.Logger
	HTTPClient *http.Client
}

// Search is an ingest.Source that backfills hashtags with
// GET /xrpc/app.bsky.feed.searchPosts?q=%23tag&sort=latest, paging with cursor, after
// logging in with com.atproto.server.createSession. Each run reads from a little
// before the newest post the last run saw (its cursor "bluesky.search.<tag>"), so it
// fills what the firehose missed while chatnight was down.
type Search struct {
	cfg   SearchConfig
	api   string
	tags  []string
	token string // accessJwt; never logged

	sleep func(context.Context, time.Duration) error
	now   func() time.Time
}

// NewSearch checks cfg; without an identifier and app password it says what to set.
func NewSearch(cfg SearchConfig) (*Search, error) {
	if cfg.Identifier == "" || cfg.AppPassword == "" {
		return nil, errors.New("bluesky search needs an account: set sources.bluesky.identifier and put an app password in the variable named by sources.bluesky.app_password_env")
	}
	if cfg.PDSURL == "" {
		cfg.PDSURL = DefaultPDSURL
	}
	u, err := url.Parse(cfg.PDSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("bluesky api url %q: use a URL such as %s (sources.bluesky.pds_url)", cfg.PDSURL, DefaultPDSURL)
	}
	if cfg.Cursors == nil {
		return nil, errors.New("bluesky search needs the cursor store")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = defaultSearchEvery
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = defaultSearchBack
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = defaultSearchPages
	}
	cfg.Metrics, cfg.Log = ingest.Defaults(cfg.Metrics, cfg.Log)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	s := &Search{cfg: cfg, api: strings.TrimRight(cfg.PDSURL, "/"), sleep: backoff.Sleep, now: time.Now}
	for _, cm := range cfg.Communities {
		for _, h := range cm.Hashtags {
			if t := post.NormalizeTag(h); !slices.Contains(s.tags, t) {
				s.tags = append(s.tags, t)
			}
		}
	}
	return s, nil
}

// Name identifies the source in logs.
func (s *Search) Name() string { return "bluesky:search" }

// SearchCursorKey is where the backfill of tag keeps the newest indexedAt it saw.
func SearchCursorKey(tag string) string {
	return "bluesky.search." + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, post.NormalizeTag(tag))
}

// Run backfills every Interval until ctx is done. It returns an error when the
// account cannot log in.
func (s *Search) Run(ctx context.Context, em *ingest.Emitter) error {
	bo := backoff.Backoff{Min: time.Second, Max: 5 * time.Minute}
	for {
		err := s.runOnce(ctx, em)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errLogin):
			return err
		case err != nil:
			s.cfg.Metrics.Errors.WithLabelValues("bluesky").Inc()
			d := bo.Next()
			s.cfg.Log.Warn("bluesky search failed, retrying", "err", err, "retry_in", d.Round(time.Millisecond))
			if s.sleep(ctx, d) != nil {
				return nil
			}
			continue
		}
		bo.Reset()
		if s.sleep(ctx, s.cfg.Interval) != nil {
			return nil
		}
	}
}

func (s *Search) runOnce(ctx context.Context, em *ingest.Emitter) error {
	if s.token == "" {
		if err := s.login(ctx); err != nil {
			return err
		}
	}
	for _, tag := range s.tags {
		if err := s.backfill(ctx, em, tag); err != nil {
			return err
		}
	}
	return nil
}

// errLogin marks a refused login: retrying will not help until the config changes.
var errLogin = errors.New("bluesky login refused")

// login creates a session with the app password.
func (s *Search) login(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"identifier": s.cfg.Identifier, "password": s.cfg.AppPassword})
	var out struct {
		AccessJwt string `json:"accessJwt"`
		DID       string `json:"did"`
		Handle    string `json:"handle"`
	}
	code, err := s.call(ctx, http.MethodPost, "/xrpc/com.atproto.server.createSession", body, &out)
	if err != nil {
		if code == http.StatusUnauthorized || code == http.StatusBadRequest || code == http.StatusForbidden {
			return fmt.Errorf("%w: createSession for %q: %v (check sources.bluesky.identifier and the app password variable)", errLogin, s.cfg.Identifier, err)
		}
		return fmt.Errorf("createSession: %w", err)
	}
	if out.AccessJwt == "" {
		return errors.New("createSession returned no access token")
	}
	s.token = out.AccessJwt
	s.cfg.Log.Info("bluesky search logged in", "handle", out.Handle)
	return nil
}

// backfill pages through the search results of one hashtag, newest first, down to a
// little before the cursor, then saves the newest indexedAt seen.
func (s *Search) backfill(ctx context.Context, em *ingest.Emitter, tag string) error {
	key := SearchCursorKey(tag)
	cur, err := s.cfg.Cursors.Get(ctx, key)
	if err != nil {
		return err
	}
	since := s.now().Add(-s.cfg.Lookback)
	if t, err := time.Parse(time.RFC3339Nano, cur); err == nil {
		since = t.Add(-searchOverlap)
	}
	newest := time.Time{}
	cursor := ""
	for page := 0; page < s.cfg.MaxPages; page++ {
		q := url.Values{
			"q":     {"#" + tag},
			"sort":  {"latest"},
			"limit": {strconv.Itoa(searchPageLimit)},
			"since": {since.UTC().Format(time.RFC3339)},
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var res struct {
			Cursor string            `json:"cursor"`
			Posts  []json.RawMessage `json:"posts"`
		}
		if err := s.authed(ctx, "/xrpc/app.bsky.feed.searchPosts?"+q.Encode(), &res); err != nil {
			return err
		}
		for _, raw := range res.Posts {
			p, err := ParsePostView(raw, post.SourceBluesky)
			if err != nil {
				em.Invalid(ctx, "bluesky", "searchPosts #"+tag, raw, err)
				continue
			}
			s.cfg.Profiles.noteAuthor(p)
			if _, err := em.PostTo(ctx, p, s.cfg.Communities, false); err != nil {
				return err
			}
			if t := indexedAt(raw); t.After(newest) {
				newest = t
			}
		}
		if res.Cursor == "" || len(res.Posts) == 0 {
			break
		}
		cursor = res.Cursor
	}
	if err := em.Flush(ctx); err != nil {
		return err
	}
	if !newest.IsZero() {
		return s.cfg.Cursors.Put(ctx, key, newest.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// authed makes a GET with the session, logging in again once when it has expired.
func (s *Search) authed(ctx context.Context, path string, out any) error {
	for attempt := 0; ; attempt++ {
		code, err := s.call(ctx, http.MethodGet, path, nil, out)
		if err == nil {
			return nil
		}
		if attempt == 0 && (code == http.StatusUnauthorized || (code == http.StatusBadRequest && strings.Contains(err.Error(), "ExpiredToken"))) {
			s.token = ""
			if err := s.login(ctx); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// call sends one XRPC request and decodes the JSON answer into out. A 429 is waited
// out (RateLimit-Reset is a Unix time) and retried.
func (s *Search) call(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	for {
		req, err := http.NewRequestWithContext(ctx, method, s.api+path, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", userAgent)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if s.token != "" && !strings.HasSuffix(path, "createSession") {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		name, _, _ := strings.Cut(path, "?")
		resp, err := s.cfg.HTTPClient.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its URL may carry the search query; the path is enough
			}
			return 0, fmt.Errorf("%s %s: %w", method, name, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxSearchBody))
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", method, name, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			wait := time.Minute
			if n, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64); err == nil {
				wait = time.Unix(n, 0).Sub(s.now())
			}
			wait = min(max(wait, time.Second), maxSearchRateLimitWt)
			s.cfg.Metrics.RateLimitWaits.WithLabelValues("bluesky").Inc()
			s.cfg.Log.Info("bluesky rate limit reached, waiting", "call", name, "wait", wait.Round(time.Second))
			if err := s.sleep(ctx, wait); err != nil {
				return 0, err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, name, resp.StatusCode, xrpcError(data))
		}
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, name, err)
		}
		return resp.StatusCode, nil
	}
}

// PostView is the part of an app.bsky.feed.defs#postView chatnight reads.
type PostView struct {
	URI    string `json:"uri"`
	Author struct {
		DID         string `json:"did"`
		Handle      string `json:"handle"`
		DisplayName string `json:"displayName"`
	} `json:"author"`
	Record    json.RawMessage `json:"record"`
	IndexedAt string          `json:"indexedAt"`
}

// ParsePostView turns a post view (searchPosts, getPosts, feeds) into a post, with
// the author's handle and display name from the view. Raw is the view JSON.
func ParsePostView(raw []byte, source post.Source) (*post.Post, error) {
	var v PostView
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode post view: %w", err)
	}
	at, err := ParseATURI(v.URI)
	if err != nil || at.Collection != CollectionPost || !validDID(at.Authority) {
		return nil, fmt.Errorf("post view uri %q is not a post", v.URI)
	}
	if v.Author.DID != "" && v.Author.DID != at.Authority {
		return nil, fmt.Errorf("post view %s: author %s does not own it", v.URI, v.Author.DID)
	}
	var rec postRecord
	if err := json.Unmarshal(v.Record, &rec); err != nil {
		return nil, fmt.Errorf("post view %s: decode record: %w", v.URI, err)
	}
	indexed, _ := time.Parse(time.RFC3339Nano, v.IndexedAt)
	handle := strings.ToLower(v.Author.Handle)
	if handle == "handle.invalid" {
		handle = ""
	}
	p, err := Parser{}.postFromRecord(v.URI, at.Authority, at.RKey, &rec, indexed, raw, source)
	if err != nil {
		return nil, err
	}
	if handle != "" {
		p.Author.Handle = handle
	}
	p.Author.Name = v.Author.DisplayName
	return p, nil
}

func indexedAt(raw []byte) time.Time {
	var v struct {
		IndexedAt string `json:"indexedAt"`
	}
	_ = json.Unmarshal(raw, &v)
	t, _ := time.Parse(time.RFC3339Nano, v.IndexedAt)
	return t
}
