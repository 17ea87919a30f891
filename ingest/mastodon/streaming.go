package mastodon

import (
	"bufio"
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
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

const (
	// streamIdle is how long a stream may be silent before it is reconnected;
	// Mastodon sends a ":thump" comment every 15 s or so.
	streamIdle = 90 * time.Second
	// maxEvent bounds one server-sent event.
	maxEvent = 4 << 20
)

// Streaming is an ingest.Source following GET /api/v1/streaming/hashtag?tag=X as
// server-sent events ("event: update" with the status JSON as data). After each
// (re)connect it backfills over REST from the cursor, like the Poller, so statuses
// posted while it was away are not lost. It needs an access token; an instance whose
// streaming endpoint is missing (404) is polled instead.
type Streaming struct {
	p    *Poller
	http *http.Client
	idle time.Duration
}

// NewStreaming checks cfg (AccessToken is required) and returns the source.
func NewStreaming(cfg PollerConfig) (*Streaming, error) {
	if cfg.AccessToken == "" {
		return nil, fmt.Errorf("mastodon streaming on %s needs an access token: set access_token_env for the instance, or poll it instead", cfg.BaseURL)
	}
	p, err := NewPoller(cfg)
	if err != nil {
		return nil, err
	}
	hc := *p.cfg.HTTPClient
	hc.Timeout = 0 // the stream is long-lived; idleness is watched instead
	token := cfg.AccessToken
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		// Instances whose streaming server lives on another host redirect there;
		// Go drops the token on a cross-host redirect, so it is put back for the
		// streaming API only.
		if strings.HasPrefix(req.URL.Path, "/api/v1/streaming") && req.URL.Scheme == "https" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return nil
	}
	return &Streaming{p: p, http: &hc, idle: streamIdle}, nil
}

// Name identifies the source in logs.
func (s *Streaming) Name() string { return "mastodon-stream:" + s.p.c.base.Host + "#" + s.p.cfg.Tag }

// Run streams until ctx is done. It returns an error when the token is refused.
func (s *Streaming) Run(ctx context.Context, em *ingest.Emitter) error {
	bo := backoff.Backoff{Min: time.Second, Max: 2 * time.Minute}
	for {
		started := s.p.c.now()
		err := s.session(ctx, em)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errFatal) {
			return err
		}
		var se *statusError
		if errors.As(err, &se) {
			if se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden {
				return fmt.Errorf("%s: %w (the access token was refused: check the variable named by access_token_env)", s.Name(), err)
			}
			s.p.cfg.Log.Warn("mastodon streaming unavailable, polling instead", "source", s.Name(), "err", err)
			return s.p.Run(ctx, em)
		}
		if s.p.c.now().Sub(started) > time.Minute {
			bo.Reset() // it was up for a while: reconnect promptly
		}
		s.p.cfg.Metrics.Errors.WithLabelValues("mastodon").Inc()
		// The next session backfills over REST from the cursor: on record as a replay.
		em.Completeness(ctx, steward.Event{Source: "mastodon", From: started, To: s.p.c.now(), Kind: steward.KindReplay,
			Detail: s.p.c.base.Host + " #" + s.p.cfg.Tag + ": stream ended (" + fmt.Sprint(err) + "); backfilled over REST on reconnect"})
		d := bo.Next()
		s.p.cfg.Log.Warn("mastodon stream ended, reconnecting", "source", s.Name(), "err", err, "retry_in", d.Round(time.Millisecond))
		if err := s.p.c.sleep(ctx, d); err != nil {
			return nil
		}
	}
}

// errFatal marks a backfill failure retrying cannot fix.
var errFatal = errors.New("fatal")

// session connects, backfills over REST, then reads events until the stream ends.
func (s *Streaming) session(ctx context.Context, em *ingest.Emitter) error {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := s.connect(connCtx)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Backfill after connecting: what is posted from now on is in the stream.
	if err := s.p.poll(ctx, em); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("%w: %w", errFatal, err)
	}
	return s.read(connCtx, cancel, em, resp.Body)
}

func (s *Streaming) connect(ctx context.Context) (*http.Response, error) {
	u := s.p.c.base.String() + "/api/v1/streaming/hashtag?" + url.Values{"tag": {s.p.cfg.Tag}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Authorization", "Bearer "+s.p.cfg.AccessToken)
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", redact(u), scrub(err))
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		err := &statusError{Code: resp.StatusCode, URL: redact(u), Msg: apiError(body)}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, fmt.Errorf("connect: %s", err.Error()) // transient: not a *statusError
		}
		return nil, err
	}
	return resp, nil
}

// read dispatches server-sent events until the body ends, the stream is idle too
// long, or ctx is done.
func (s *Streaming) read(ctx context.Context, cancel context.CancelFunc, em *ingest.Emitter, body io.Reader) error {
	idle := time.AfterFunc(s.idle, cancel)
	defer idle.Stop()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEvent)
	var event string
	var data []string
	for sc.Scan() {
		idle.Reset(s.idle)
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			if err := s.dispatch(ctx, em, event, strings.Join(data, "\n")); err != nil {
				return err
			}
			event, data = "", data[:0]
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: Mastodon's heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "data":
			data = append(data, value)
		}
	}
	if ctx.Err() != nil {
		if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return errors.New("stream idle or stopped")
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stream: %w", err)
	}
	return io.ErrUnexpectedEOF
}

// dispatch handles one event: "update" (a new status) and "status.update" (an edit)
// are published; "delete" of a status this source saw is reported; the rest ignored.
func (s *Streaming) dispatch(ctx context.Context, em *ingest.Emitter, event, data string) error {
	if event == "delete" {
		return s.deleted(ctx, em, data)
	}
	if event != "update" && event != "status.update" {
		return nil
	}
	raw := []byte(data)
	if strings.HasPrefix(data, `"`) {
		// The websocket flavour sends the status as a JSON string.
		var inner string
		if err := json.Unmarshal(raw, &inner); err == nil {
			raw = []byte(inner)
		}
	}
	h := headOf(raw)
	s.p.remember(h)
	s.p.resolveParents(ctx, []statusHead{h})
	where := fmt.Sprintf("%s/api/v1/streaming/hashtag event %s status id %s", s.p.c.base.String(), event, h.ID)
	posts, err := s.p.parser.Parse(raw, post.SourceMastodon)
	if err != nil {
		em.Invalid(ctx, "mastodon", where, raw, err)
		return nil
	}
	for _, ps := range posts {
		if _, err := em.PostTo(ctx, ps, s.p.cfg.Communities, false); err != nil {
			return err
		}
	}
	return s.p.commit(ctx, em, string(h.ID))
}

// deleted reports the deletion of a status by its local id (the event's data, a JSON
// string or bare), when this source saw the status: the instance streams deletes of
// every status it knows, most of them never in a chat.
func (s *Streaming) deleted(ctx context.Context, em *ingest.Emitter, data string) error {
	id := strings.TrimSpace(data)
	var quoted string
	if json.Unmarshal([]byte(id), &quoted) == nil {
		id = quoted
	}
	ref, ok := s.p.refs.Get(id)
	if !ok || ref.URI == "" {
		return nil
	}
	return em.Delete(ctx, steward.Deletion{PostID: PostID(ref.URI), Source: "mastodon", Reason: "mastodon delete event", At: s.p.c.now()})
}
