package xapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

const searchPath = "/2/tweets/search/recent"

// SearchConfig configures the recent-search source.
type SearchConfig struct {
	ClientConfig
	// Communities are polled one after the other; pass those that follow "x".
	Communities []community.Community
	// Cursors keeps each community's newest tweet id (key CursorKey(id)).
	Cursors *ingest.Cursors
	// PollInterval is the pause between polling rounds; zero means 60s.
	PollInterval time.Duration
	// Lookback limits the first poll of a community without a cursor to this much
	// recent history (start_time); zero takes the API's whole window (7 days).
	Lookback time.Duration
}

// Search polls GET /2/tweets/search/recent for each community's hashtags. It is an
// ingest.Source.
type Search struct {
	c           *client
	communities []community.Community
	cursors     *ingest.Cursors
	interval    time.Duration
	lookback    time.Duration
	recent      []recentTweet // published tweets waiting for their recheck (recheck.go)
}

// NewSearch checks the configuration and reads the bearer token; a missing token is an
// error naming the environment variable.
func NewSearch(cfg SearchConfig) (*Search, error) {
	c, err := newClient(cfg.ClientConfig)
	if err != nil {
		return nil, err
	}
	if cfg.Cursors == nil {
		return nil, errors.New("X search: no cursor store")
	}
	if len(cfg.Communities) == 0 {
		return nil, errors.New("X search: no communities to follow")
	}
	s := &Search{c: c, communities: cfg.Communities, cursors: cfg.Cursors, interval: cfg.PollInterval, lookback: cfg.Lookback}
	if s.interval <= 0 {
		s.interval = time.Minute
	}
	return s, nil
}

// Name implements ingest.Source.
func (s *Search) Name() string { return "x-search" }

// CursorKey is where the search source keeps a community's newest tweet id.
func CursorKey(communityID string) string { return "x.search." + communityID }

// SearchQuery is the query (and stream rule) for a community: any of its hashtags.
// Retweets are kept: they are reposts and count as participation.
func SearchQuery(cm *community.Community) string {
	var terms []string
	for _, h := range cm.Hashtags {
		if t := post.NormalizeTag(h); t != "" {
			terms = appendUnique(terms, "#"+t)
		}
	}
	return strings.Join(terms, " OR ")
}

// Run polls every community, then waits PollInterval, until ctx is done. Transient
// failures are logged and retried; an answer retrying cannot fix (a refused token, a
// rejected query) ends Run with the error.
func (s *Search) Run(ctx context.Context, em *ingest.Emitter) error {
	s.c.em = em
	for {
		for i := range s.communities {
			cm := &s.communities[i]
			err := s.Poll(ctx, em, cm)
			if ctx.Err() != nil {
				return nil
			}
			var se *StatusError
			if errors.As(err, &se) {
				return s.c.fatal(fmt.Errorf("X search for community %s: %w", cm.ID, err))
			}
			if err != nil {
				s.c.metrics.Errors.WithLabelValues(metricsSource).Inc()
				s.c.log.Warn("X search poll failed; retrying next round", "community", cm.ID, "err", s.c.token.redact(err.Error()))
			}
		}
		if err := s.recheck(ctx, em); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.c.log.Warn("X lookup of stored tweets failed; trying again next round", "err", s.c.token.redact(err.Error()))
		}
		if err := backoff.Sleep(ctx, s.interval); err != nil {
			return nil
		}
	}
}

// Poll fetches everything new for one community since its cursor, all pages, and
// advances the cursor only once every post of the poll is stored: a poll cut short
// starts over from the old cursor, and JetStream drops the repeats.
func (s *Search) Poll(ctx context.Context, em *ingest.Emitter, cm *community.Community) error {
	key := CursorKey(cm.ID)
	since, err := s.cursors.Get(ctx, key)
	if err != nil {
		return err
	}
	var start time.Time
	if since == "" && s.lookback > 0 {
		start = time.Now().Add(-s.lookback)
	}
	res, err := s.c.searchAll(ctx, em, SearchQuery(cm), since, start, []string{cm.ID})
	for _, id := range res.ids {
		s.noteRecent(id)
	}
	if err != nil {
		return err
	}
	if res.newest == "" || (since != "" && ingest.CompareIDs(res.newest, since) <= 0) {
		return nil
	}
	if err := em.Flush(ctx); err != nil {
		return fmt.Errorf("X search for %s: posts not stored, cursor kept at %q: %w", cm.ID, since, err)
	}
	if err := s.cursors.Put(ctx, key, res.newest); err != nil {
		return err
	}
	s.c.log.Debug("X search poll done", "community", cm.ID, "pages", res.pages, "posts", res.posts, "newest", res.newest)
	return nil
}

type searchResult struct {
	newest       string
	pages, posts int
	oldest       time.Time // of the tweets read
	ids          []string  // tweet ids published
}

// MaxSearchPages bounds one poll of recent search (100 tweets a page). A poll that
// stops there puts the rest (older than its last page, newer than the cursor) on
// record as missed, since the cursor moves to the newest tweet.
var MaxSearchPages = 100

// searchAll pages through recent search for query, newer than since, and posts every
// tweet to each of communities. newest is the newest id of the first page.
func (c *client) searchAll(ctx context.Context, em *ingest.Emitter, query, since string, start time.Time, communities []string) (searchResult, error) {
	var res searchResult
	published := map[string]bool{}
	next := ""
	for {
		q := fieldParams(url.Values{})
		q.Set("query", query)
		q.Set("max_results", "100")
		if since != "" {
			q.Set("since_id", since)
		} else if !start.IsZero() {
			q.Set("start_time", start.UTC().Format(time.RFC3339))
		}
		if next != "" {
			q.Set("next_token", next)
		}
		m, body, err := c.getMessage(ctx, searchPath, q)
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusBadRequest && next != "" && strings.Contains(se.Body, "next_token") {
			// The page token expired mid-paging: what it led to is missed.
			c.log.Warn("X search next_token expired; older posts of this poll are missed", "query", query)
			c.record(ctx, steward.Event{Community: oneCommunity(communities), From: missedFrom(since, start, res.oldest), To: res.oldest,
				Kind: steward.KindTokenExpired, Detail: fmt.Sprintf("next_token expired after %d pages", res.pages), Count: 1})
			return res, nil
		}
		if errors.As(err, &se) && se.Status == http.StatusBadRequest && since != "" && next == "" && strings.Contains(se.Body, "since_id") {
			// The cursor is older than recent search reaches (7 days): start from
			// what it still has.
			c.log.Warn("X search cursor is out of the search window; some posts may be missed", "since_id", since, "query", query)
			since = ""
			continue
		}
		if err != nil {
			return res, err
		}
		res.pages++
		if len(m.Errors) > 0 {
			c.log.Debug("X search page has partial errors", "query", query, "errors", len(m.Errors), "first", m.Errors[0].String())
		}
		if res.pages == 1 {
			res.newest = m.Meta.NewestID
		}
		posts, perr := m.Posts(post.SourceX)
		if perr != nil {
			em.Invalid(ctx, metricsSource, c.base+searchPath+"?query="+url.QueryEscape(query)+"&page="+strconv.Itoa(res.pages), body, perr)
		}
		for _, t := range m.Tweets {
			if ts := idTime(t.ID); !ts.IsZero() && (res.oldest.IsZero() || ts.Before(res.oldest)) {
				res.oldest = ts
			}
			if res.pages == 1 && validID(t.ID) && (res.newest == "" || ingest.CompareIDs(t.ID, res.newest) > 0) {
				res.newest = t.ID
			}
		}
		for _, p := range posts {
			if err := postTo(ctx, em, p, communities); err != nil {
				return res, err
			}
			res.posts++
			if id, ok := strings.CutPrefix(p.ID, "x:"); ok && len(res.ids) < maxRecent && !published[id] {
				published[id] = true
				res.ids = append(res.ids, id)
			}
		}
		next = m.Meta.NextToken
		if next == "" {
			return res, nil
		}
		if res.pages >= MaxSearchPages {
			c.log.Warn("X search stopped at the page cap; older posts of this poll are missed", "query", query, "pages", res.pages)
			c.record(ctx, steward.Event{Community: oneCommunity(communities), From: missedFrom(since, start, res.oldest), To: res.oldest,
				Kind: steward.KindPageCap, Detail: fmt.Sprintf("stopped after %d pages (MaxSearchPages)", res.pages), Count: 1})
			return res, nil
		}
	}
}

// getMessage GETs path and decodes the v2 answer.
func (c *client) getMessage(ctx context.Context, path string, q url.Values) (*Message, []byte, error) {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil, false)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("X API GET %s: read body: %w", path, err)
	}
	m, err := DecodeMessage(body)
	if err != nil {
		return nil, nil, fmt.Errorf("X API GET %s: %w", path, err)
	}
	return m, body, nil
}

// postTo publishes p once for each community.
func postTo(ctx context.Context, em *ingest.Emitter, p *post.Post, communities []string) error {
	for _, id := range communities {
		cp := *p
		cp.Community = id
		if err := em.Post(ctx, &cp); err != nil {
			return err
		}
	}
	return nil
}

// missedFrom is where the posts a cut-short poll did not read begin: the cursor's
// time, else the poll's start time, else (unknown) the oldest post read.
func missedFrom(since string, start, oldest time.Time) time.Time {
	if t := idTime(since); !t.IsZero() && !t.After(oldest) {
		return t
	}
	if !start.IsZero() && !start.After(oldest) {
		return start
	}
	return oldest
}

// oneCommunity names the community of an event: "" (all) when a request served several.
func oneCommunity(ids []string) string {
	if len(ids) == 1 {
		return ids[0]
	}
	return ""
}
