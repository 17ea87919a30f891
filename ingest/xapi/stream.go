package xapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/lines"
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

const (
	streamPath = "/2/tweets/search/stream"
	rulesPath  = "/2/tweets/search/stream/rules"

	// RulePrefix marks the stream rules chatnight manages; other rules of the app are
	// left alone.
	RulePrefix = "chatnight:"

	// StreamCursorKey keeps the newest tweet id the stream stored, for backfill.
	StreamCursorKey = "x.stream"
)

// RuleTag is the tag of a community's stream rule.
func RuleTag(communityID string) string { return RulePrefix + communityID }

// StreamConfig configures the filtered-stream source.
type StreamConfig struct {
	ClientConfig
	// Communities each get one rule, tagged RuleTag(id), whose value is SearchQuery.
	Communities []community.Community
	// Cursors, when set, keeps the newest stored tweet id (StreamCursorKey) so that a
	// restarted stream can backfill.
	Cursors *ingest.Cursors
	// Backfill runs a recent search since the newest stored tweet after each
	// (re)connect, to fill what was missed while disconnected.
	Backfill bool
	// IdleTimeout drops a connection that sent nothing, not even a keep-alive, for
	// this long; zero means 30s (X sends a keep-alive every 20s).
	IdleTimeout time.Duration
	// MaxLine bounds one stream message; zero means 16 MiB.
	MaxLine int
}

// Stream reads GET /2/tweets/search/stream and routes each tweet to the communities
// whose rules it matched. It is an ingest.Source.
type Stream struct {
	c           *client
	communities []community.Community
	cursors     *ingest.Cursors
	backfill    bool
	idle        time.Duration
	maxLine     int

	ruleIDs map[string]string // rule id -> community id, from the last SyncRules
	conns   int
	lostAt  time.Time // when the connection dropped (zero while connected)
	lostWhy string
}

// NewStream checks the configuration and reads the bearer token.
func NewStream(cfg StreamConfig) (*Stream, error) {
	c, err := newClient(cfg.ClientConfig)
	if err != nil {
		return nil, err
	}
	if len(cfg.Communities) == 0 {
		return nil, errors.New("X stream: no communities to follow")
	}
	s := &Stream{
		c: c, communities: cfg.Communities, cursors: cfg.Cursors, backfill: cfg.Backfill,
		idle: cfg.IdleTimeout, maxLine: cfg.MaxLine, ruleIDs: map[string]string{},
	}
	if s.idle <= 0 {
		s.idle = 30 * time.Second
	}
	if s.maxLine <= 0 {
		s.maxLine = 16 << 20
	}
	return s, nil
}

// Name implements ingest.Source.
func (s *Stream) Name() string { return "x-stream" }

// Rule is a filtered-stream rule.
type Rule struct {
	ID    string `json:"id,omitempty"`
	Value string `json:"value"`
	Tag   string `json:"tag,omitempty"`
}

type rulesAnswer struct {
	Data   []Rule     `json:"data"`
	Errors []APIError `json:"errors"`
	Meta   struct {
		Summary struct {
			Created    int `json:"created"`
			NotCreated int `json:"not_created"`
			Deleted    int `json:"deleted"`
			NotDeleted int `json:"not_deleted"`
			Invalid    int `json:"invalid"`
		} `json:"summary"`
	} `json:"meta"`
}

// SyncRules makes the app's chatnight rules match the communities: it adds missing
// rules and deletes stale ones (tagged RulePrefix but for a community or query no
// longer configured). Rules with other tags are not touched.
func (s *Stream) SyncRules(ctx context.Context) error {
	var have rulesAnswer
	if err := s.rulesCall(ctx, http.MethodGet, nil, &have); err != nil {
		return err
	}
	want := map[string]string{} // tag -> value
	for i := range s.communities {
		cm := &s.communities[i]
		want[RuleTag(cm.ID)] = SearchQuery(cm)
	}
	ids := map[string]string{}
	kept := map[string]bool{}
	var stale []string
	for _, r := range have.Data {
		if !strings.HasPrefix(r.Tag, RulePrefix) {
			continue
		}
		if v, ok := want[r.Tag]; ok && v == r.Value && !kept[r.Tag] {
			kept[r.Tag] = true
			ids[r.ID] = strings.TrimPrefix(r.Tag, RulePrefix)
			continue
		}
		stale = append(stale, r.ID)
	}
	if len(stale) > 0 {
		body, _ := json.Marshal(map[string]any{"delete": map[string][]string{"ids": stale}})
		var ans rulesAnswer
		if err := s.rulesCall(ctx, http.MethodPost, body, &ans); err != nil {
			return err
		}
		s.c.log.Info("X stream rules deleted", "ids", stale, "deleted", ans.Meta.Summary.Deleted)
	}
	var add []Rule
	for i := range s.communities {
		tag := RuleTag(s.communities[i].ID)
		if !kept[tag] {
			add = append(add, Rule{Value: want[tag], Tag: tag})
			kept[tag] = true
		}
	}
	if len(add) > 0 {
		body, _ := json.Marshal(map[string]any{"add": add})
		var ans rulesAnswer
		if err := s.rulesCall(ctx, http.MethodPost, body, &ans); err != nil {
			return err
		}
		if ans.Meta.Summary.Invalid > 0 || (len(ans.Errors) > 0 && len(ans.Data) < len(add)) {
			var msgs []string
			for _, e := range ans.Errors {
				msgs = append(msgs, e.String())
			}
			return fmt.Errorf("X stream rules rejected (%d invalid): %s", ans.Meta.Summary.Invalid, strings.Join(msgs, "; "))
		}
		for _, r := range ans.Data {
			if strings.HasPrefix(r.Tag, RulePrefix) {
				ids[r.ID] = strings.TrimPrefix(r.Tag, RulePrefix)
			}
		}
		s.c.log.Info("X stream rules added", "rules", len(ans.Data))
	}
	s.ruleIDs = ids
	return nil
}

func (s *Stream) rulesCall(ctx context.Context, method string, body []byte, out *rulesAnswer) error {
	resp, err := s.c.do(ctx, method, rulesPath, nil, body, false)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out); err != nil && err != io.EOF {
		return fmt.Errorf("X API %s %s: decode answer: %w", method, rulesPath, err)
	}
	return nil
}

// Run syncs the rules, then reads the stream, reconnecting with backoff, until ctx is
// done. A refused token or rejected rules end Run with the error.
func (s *Stream) Run(ctx context.Context, em *ingest.Emitter) error {
	s.c.em = em
	if err := s.SyncRules(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return s.c.fatal(fmt.Errorf("X stream: %w", err))
	}
	var stored string // newest tweet id known stored, the backfill point
	if s.cursors != nil {
		v, err := s.cursors.Get(ctx, StreamCursorKey)
		if err != nil {
			s.c.log.Warn("X stream cursor unreadable; no backfill until a tweet arrives", "err", err)
		}
		stored = v
	}
	bo := backoff.Backoff{Min: s.c.min, Max: s.c.max}
	for {
		n, err := s.connect(ctx, em, &stored)
		if ctx.Err() != nil {
			return nil
		}
		var se *StatusError
		if errors.As(err, &se) {
			return s.c.fatal(fmt.Errorf("X stream: %w", err))
		}
		if n > 0 {
			bo.Reset()
		}
		s.c.metrics.Errors.WithLabelValues(metricsSource).Inc()
		s.c.log.Warn("X stream disconnected; reconnecting", "lines", n, "err", errString(s.c, err))
		if s.lostAt.IsZero() {
			s.lostAt, s.lostWhy = time.Now(), errString(s.c, err)
		}
		if err := bo.Wait(ctx); err != nil {
			return nil
		}
	}
}

func errString(c *client, err error) string {
	if err == nil {
		return "closed by server"
	}
	return c.token.redact(err.Error())
}

// connect runs one stream connection and returns how many lines it carried.
func (s *Stream) connect(ctx context.Context, em *ingest.Emitter, stored *string) (int, error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := s.c.do(cctx, http.MethodGet, streamPath, fieldParams(url.Values{}), nil, true)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	s.conns++
	s.c.log.Info("X stream connected", "connection", s.conns)
	if !s.lostAt.IsZero() {
		// The time without a connection: missed, unless recent search fills it in.
		ev := steward.Event{From: s.lostAt, To: time.Now(), Kind: steward.KindReconnect, Detail: "stream dropped: " + s.lostWhy}
		if s.backfill && *stored != "" {
			ev.Kind, ev.Detail = steward.KindReplay, ev.Detail+"; backfilled from recent search"
		}
		s.c.record(ctx, ev)
		s.lostAt = time.Time{}
	}
	if s.backfill && *stored != "" {
		// Connected first, so tweets arriving meanwhile wait in the connection.
		if err := s.backfillSince(ctx, em, stored); err != nil {
			return 0, err
		}
	}
	// Nothing at all for IdleTimeout (X sends keep-alives): the connection is dead.
	idle := time.AfterFunc(s.idle, cancel)
	defer idle.Stop()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	origin := fmt.Sprintf("%s%s#conn%d", s.c.base, streamPath, s.conns)
	var (
		count   int
		pending string // newest tweet id published but not yet flushed
	)
	for {
		line, rerr := lines.Read(br, s.maxLine)
		idle.Reset(s.idle)
		tooLong := errors.Is(rerr, lines.ErrTooLong)
		ended := rerr != nil && !tooLong
		if len(bytes.TrimSpace(line)) > 0 {
			count++
			at := fmt.Sprintf("%s:line%d", origin, count)
			switch {
			case tooLong:
				em.Invalid(ctx, metricsSource, at, line[:min(len(line), 64<<10)], rerr)
			case ended && ctx.Err() != nil:
				// Shutting down: a cut line is ours, not the network's; it comes again.
			case ended && !json.Valid(bytes.TrimSpace(line)):
				// A message cut off by the disconnect: normal, parked and counted.
				em.Invalid(ctx, metricsSource, at, line, fmt.Errorf("stream message cut off at disconnect: %w", rerr))
			default:
				if err := s.handle(ctx, em, at, line, &pending); err != nil {
					return count, err
				}
			}
		}
		if ended {
			cerr := s.commit(ctx, em, pending, stored)
			if rerr == io.EOF {
				return count, cerr
			}
			return count, rerr
		}
		if br.Buffered() == 0 {
			// Caught up with the connection: store what came so far.
			if err := s.commit(ctx, em, pending, stored); err != nil {
				return count, err
			}
		}
	}
}

// commit waits until everything published is stored, then records the newest id.
func (s *Stream) commit(ctx context.Context, em *ingest.Emitter, pending string, stored *string) error {
	if pending == "" || (*stored != "" && ingest.CompareIDs(pending, *stored) <= 0) {
		return nil
	}
	if err := em.Flush(ctx); err != nil {
		return fmt.Errorf("X stream: posts not stored: %w", err)
	}
	*stored = pending
	if s.cursors != nil {
		if err := s.cursors.Put(ctx, StreamCursorKey, pending); err != nil {
			s.c.log.Warn("X stream cursor not saved", "err", err)
		}
	}
	return nil
}

// handle publishes the tweets of one stream message to the communities it matched.
func (s *Stream) handle(ctx context.Context, em *ingest.Emitter, origin string, line []byte, pending *string) error {
	m, err := DecodeMessage(line)
	if err != nil {
		em.Invalid(ctx, metricsSource, origin, line, err)
		return nil
	}
	if len(m.Tweets) == 0 {
		for _, e := range m.Errors {
			s.c.log.Warn("X stream notice", "error", e.String())
		}
		return nil
	}
	targets := s.route(m)
	if len(targets) == 0 {
		s.c.log.Debug("X stream tweet matched no chatnight rule", "rules", m.MatchingRules)
		return nil
	}
	posts, perr := m.Posts(post.SourceX)
	if perr != nil {
		em.Invalid(ctx, metricsSource, origin, line, perr)
	}
	for _, p := range posts {
		if err := postTo(ctx, em, p, targets); err != nil {
			return err
		}
	}
	for _, t := range m.Tweets {
		if validID(t.ID) && (*pending == "" || ingest.CompareIDs(t.ID, *pending) > 0) {
			*pending = t.ID
		}
	}
	return nil
}

// route finds the communities of the rules a message matched, by tag (with or without
// RulePrefix) or by rule id.
func (s *Stream) route(m *Message) []string {
	var out []string
	for _, r := range m.MatchingRules {
		id, ok := "", false
		if tag := strings.TrimPrefix(r.Tag, RulePrefix); tag != "" {
			for i := range s.communities {
				if s.communities[i].ID == tag {
					id, ok = tag, true
				}
			}
		}
		if !ok {
			id, ok = s.ruleIDs[r.ID]
		}
		if ok {
			out = appendUnique(out, id)
		}
	}
	return out
}

// backfillSince searches each community for tweets newer than *stored and stores them.
func (s *Stream) backfillSince(ctx context.Context, em *ingest.Emitter, stored *string) error {
	newest := *stored
	for i := range s.communities {
		cm := &s.communities[i]
		res, err := s.c.searchAll(ctx, em, SearchQuery(cm), *stored, time.Time{}, []string{cm.ID})
		if err != nil {
			return fmt.Errorf("X stream backfill for %s: %w", cm.ID, err)
		}
		if res.newest != "" && ingest.CompareIDs(res.newest, newest) > 0 {
			newest = res.newest
		}
		s.c.log.Info("X stream backfill done", "community", cm.ID, "since_id", *stored, "posts", res.posts)
	}
	return s.commit(ctx, em, newest, stored)
}
