package bluesky

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/lru"
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// JetstreamCursorKey is where the Jetstream source keeps the time_us it has reached.
const JetstreamCursorKey = "bluesky.jetstream"

const (
	// ResumeOverlap is how far before the saved cursor a reconnect starts: events
	// arrive a little out of time order, and JetStream drops the repeats by msg id.
	ResumeOverlap = 5 * time.Second

	writeWait      = 10 * time.Second
	pongWait       = 60 * time.Second
	pingPeriod     = pongWait * 9 / 10
	maxMessageSize = 4 << 20 // a Jetstream event with the largest allowed record fits
	msgBuffer      = 1024

	defaultSaveEvery = 5 * time.Second
	defaultKept      = 200000 // post uris remembered so their reposts are kept
	defaultPending   = 8192   // reposts that came before their post, waiting for it
)

// JetstreamConfig configures the Jetstream source.
type JetstreamConfig struct {
	URL string // "" is DefaultJetstreamURL; "/subscribe" is added when missing

	// Communities are the candidates posts are routed to by their hashtags; posts
	// with none of their hashtags are dropped.
	Communities []community.Community

	Cursors  *ingest.Cursors
	Profiles *Profiles       // nil: handles come from identity events only
	Memory   *Memory         // nil: kept posts are forgotten on restart
	Metrics  *ingest.Metrics // the Emitter's; nil makes unregistered ones
	Log      *slog.Logger
	Dialer   *websocket.Dialer

	SaveEvery   time.Duration // how often the cursor is saved; 0 is 5 s
	KeptPosts   int           // 0 is 200000
	PendingReps int           // 0 is 8192
}

// Jetstream is an ingest.Source following the Jetstream firehose for posts and
// reposts. It keeps posts that carry a community hashtag and reposts of posts it
// kept (a bounded memory of kept post uris; a repost that arrives before its post
// waits in a bounded buffer). Its cursor is the largest time_us processed, saved
// every SaveEvery after the Emitter is flushed; a reconnect resumes ResumeOverlap
// before it.
type Jetstream struct {
	cfg    JetstreamConfig
	base   *url.URL
	parser Parser
	tags   [][]byte // community hashtags, folded, for the dead-letter check

	last    int64                            // largest time_us processed
	kept    *lru.Cache[string, []string]     // post uri -> hashtags
	pending *lru.Cache[string, []*post.Post] // subject uri -> reposts waiting for it
	lostErr error                            // why the last connection ended

	sleep func(context.Context, time.Duration) error
}

// NewJetstream checks cfg and returns the source.
func NewJetstream(cfg JetstreamConfig) (*Jetstream, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultJetstreamURL
	}
	base, err := url.Parse(cfg.URL)
	if err != nil || (base.Scheme != "wss" && base.Scheme != "ws") || base.Host == "" {
		return nil, fmt.Errorf("jetstream url %q: use a ws:// or wss:// URL such as %s (sources.bluesky.jetstream_url)", cfg.URL, DefaultJetstreamURL)
	}
	if !strings.HasSuffix(base.Path, "/subscribe") {
		base.Path = strings.TrimRight(base.Path, "/") + "/subscribe"
	}
	if cfg.Cursors == nil {
		return nil, errors.New("jetstream source needs the cursor store")
	}
	cfg.Metrics, cfg.Log = ingest.Defaults(cfg.Metrics, cfg.Log)
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	}
	if cfg.SaveEvery <= 0 {
		cfg.SaveEvery = defaultSaveEvery
	}
	if cfg.KeptPosts <= 0 {
		cfg.KeptPosts = defaultKept
	}
	if cfg.PendingReps <= 0 {
		cfg.PendingReps = defaultPending
	}
	j := &Jetstream{
		cfg: cfg, base: base,
		kept:    lru.New[string, []string](cfg.KeptPosts),
		pending: lru.New[string, []*post.Post](cfg.PendingReps),
		sleep:   backoff.Sleep,
	}
	j.parser = Parser{Profile: cfg.Profiles.Get}
	for _, cm := range cfg.Communities {
		for _, h := range cm.Hashtags {
			j.tags = append(j.tags, []byte(post.NormalizeTag(h)))
		}
	}
	return j, nil
}

// Name identifies the source in logs.
func (j *Jetstream) Name() string { return "bluesky:jetstream" }

// Run follows the firehose until ctx is done, reconnecting with backoff.
func (j *Jetstream) Run(ctx context.Context, em *ingest.Emitter) error {
	bo := backoff.Backoff{Min: time.Second, Max: 2 * time.Minute}
	for {
		cur, err := j.cfg.Cursors.Get(ctx, JetstreamCursorKey)
		if err == nil {
			if n, perr := strconv.ParseInt(cur, 10, 64); perr == nil && n > j.last {
				j.last = n
			}
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		j.cfg.Log.Warn("jetstream cursor unreadable, retrying", "err", err)
		if j.sleep(ctx, bo.Next()) != nil {
			return nil
		}
	}
	bo.Reset()
	for {
		started := time.Now()
		err := j.session(ctx, em)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			bo.Reset()
		}
		j.cfg.Metrics.Errors.WithLabelValues("bluesky").Inc()
		j.lostErr = err
		d := bo.Next()
		j.cfg.Log.Warn("jetstream connection ended, reconnecting", "err", err, "retry_in", d.Round(time.Millisecond), "cursor", j.last)
		if j.sleep(ctx, d) != nil {
			return nil
		}
	}
}

// subscribeURL asks for posts and reposts from ResumeOverlap before the cursor.
func (j *Jetstream) subscribeURL() string {
	u := *j.base
	q := u.Query()
	q.Del("wantedCollections")
	q.Add("wantedCollections", CollectionPost)
	q.Add("wantedCollections", CollectionRepost)
	q.Del("cursor")
	if j.last > 0 {
		q.Set("cursor", strconv.FormatInt(j.last-ResumeOverlap.Microseconds(), 10))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// session reads one connection until it fails or ctx is done, then saves the cursor.
func (j *Jetstream) session(ctx context.Context, em *ingest.Emitter) error {
	u := j.subscribeURL()
	conn, resp, err := j.cfg.Dialer.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("connect to %s: %s: %w", j.base.Host, resp.Status, err)
		}
		return fmt.Errorf("connect to %s: %w", j.base.Host, err)
	}
	j.cfg.Log.Info("jetstream connected", "host", j.base.Host, "cursor", j.last)
	if j.last > 0 {
		// Resuming from the cursor replays what was missed while disconnected: on record,
		// so a researcher knows this window was read twice (repeats are dropped).
		from := time.UnixMicro(j.last - ResumeOverlap.Microseconds())
		detail := "resumed from the saved cursor; events since then replayed, repeats dropped"
		if j.lostErr != nil {
			detail = "reconnected after: " + j.lostErr.Error() + "; " + detail
		}
		em.Completeness(ctx, steward.Event{Source: "bluesky", From: from, To: time.Now(), Kind: steward.KindReplay, Detail: detail})
	}

	conn.SetReadLimit(maxMessageSize)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })

	msgs := make(chan []byte, msgBuffer)
	readErr := make(chan error, 1)
	go func() { // readPump: owned by session, which waits for it below
		defer close(msgs)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(pongWait))
			select {
			case msgs <- data:
			case <-ctx.Done():
				readErr <- ctx.Err()
				return
			}
		}
	}()
	defer func() {
		conn.Close() // ends the read pump
		for range msgs {
		}
	}()

	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	save := time.NewTicker(j.cfg.SaveEvery)
	defer save.Stop()
	saved := j.last
	var sessErr error
loop:
	for {
		select {
		case data, ok := <-msgs:
			if !ok {
				sessErr = <-readErr
				break loop
			}
			if err := j.handle(ctx, em, data); err != nil {
				sessErr = err
				break loop
			}
		case <-save.C:
			if j.last != saved {
				if err := j.saveCursor(ctx, em); err != nil {
					sessErr = err
					break loop
				}
				saved = j.last
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				sessErr = fmt.Errorf("ping: %w", err)
				break loop
			}
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			sessErr = ctx.Err()
			break loop
		}
	}
	// Whatever was published is stored before the cursor moves past it; on shutdown
	// too, with a short grace period.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if j.last != saved {
		if err := j.saveCursor(sctx, em); err != nil {
			j.cfg.Log.Warn("jetstream cursor not saved", "err", err)
		}
	}
	return sessErr
}

func (j *Jetstream) saveCursor(ctx context.Context, em *ingest.Emitter) error {
	if err := em.Flush(ctx); err != nil {
		return err
	}
	return j.cfg.Cursors.Put(ctx, JetstreamCursorKey, strconv.FormatInt(j.last, 10))
}

// handle processes one event. Only a failure to publish is returned.
func (j *Jetstream) handle(ctx context.Context, em *ingest.Emitter, data []byte) error {
	ev, err := DecodeEvent(data)
	if err != nil {
		j.invalid(ctx, em, nil, data, err)
		return nil
	}
	defer func() {
		if ev.TimeUS > j.last {
			j.last = ev.TimeUS
		}
	}()
	switch {
	case ev.Kind == "identity" && ev.Identity != nil:
		j.cfg.Profiles.Note(ev.Identity.DID, ev.Identity.Handle)
		return nil
	case ev.IsCreate(CollectionPost):
		return j.handlePost(ctx, em, ev, data)
	case ev.IsCreate(CollectionRepost):
		return j.handleRepost(ctx, em, ev, data)
	}
	if d, ok := DeletionOf(ev); ok {
		// Only deletions of posts this source published (still in the kept cache) are
		// reported: the firehose deletes far more posts than any chat holds.
		if _, kept := j.kept.Get(strings.TrimPrefix(d.PostID, "bluesky:")); kept {
			return em.Delete(ctx, d)
		}
	}
	return nil
}

func (j *Jetstream) handlePost(ctx context.Context, em *ingest.Emitter, ev *Event, data []byte) error {
	posts, err := j.parser.Posts(ev, data, post.SourceBluesky)
	if err != nil {
		j.invalid(ctx, em, ev, data, err)
		return nil
	}
	p := posts[0]
	if !j.matches(p.Hashtags) {
		return nil
	}
	if pr, ok := j.cfg.Profiles.Resolve(ctx, ev.DID); ok {
		pr.fill(&p.Author)
	}
	n, err := em.PostTo(ctx, p, j.cfg.Communities, false)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	uri := strings.TrimPrefix(p.ID, "bluesky:")
	j.kept.Put(uri, p.Hashtags)
	j.cfg.Memory.SaveKept(uri, p.Hashtags)
	if waiting, ok := j.pending.Get(uri); ok {
		j.pending.Delete(uri)
		for _, w := range waiting {
			w.Hashtags = slices.Clone(p.Hashtags)
			if _, err := em.PostTo(ctx, w, j.cfg.Communities, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (j *Jetstream) handleRepost(ctx context.Context, em *ingest.Emitter, ev *Event, data []byte) error {
	posts, err := j.parser.Posts(ev, data, post.SourceBluesky)
	if err != nil {
		return nil // a broken repost of a post we do not know is nobody's loss
	}
	p := posts[0]
	subject := strings.TrimPrefix(p.RepostOfID, "bluesky:")
	tags, ok := j.kept.Get(subject)
	if !ok {
		// Kept before a restart?
		if tags, ok = j.cfg.Memory.Kept(subject); ok {
			j.kept.Put(subject, tags)
		}
	}
	if !ok {
		// Its post may still be on its way (events arrive a little out of order).
		w, _ := j.pending.Get(subject)
		if len(w) < 8 {
			j.pending.Put(subject, append(w, p))
		}
		return nil
	}
	if pr, ok := j.cfg.Profiles.Resolve(ctx, ev.DID); ok {
		pr.fill(&p.Author)
	}
	// A repost joins the chat of the post it shares.
	p.Hashtags = slices.Clone(tags)
	if _, err = em.PostTo(ctx, p, j.cfg.Communities, false); err != nil {
		return err
	}
	j.kept.Put(strings.TrimPrefix(p.ID, "bluesky:"), p.Hashtags) // so its deletion is known
	return nil
}

func (j *Jetstream) matches(tags []string) bool {
	for i := range j.cfg.Communities {
		if j.cfg.Communities[i].MatchesTags(tags) {
			return true
		}
	}
	return false
}

// invalid dead-letters an event chatnight would have wanted: one that mentions a
// community hashtag. The firehose carries plenty of odd records from odd clients,
// and parking all of them would bury the ones that matter.
func (j *Jetstream) invalid(ctx context.Context, em *ingest.Emitter, ev *Event, data []byte, err error) {
	lower := bytes.ToLower(data)
	for _, t := range j.tags {
		if bytes.Contains(lower, t) {
			origin := "jetstream"
			if ev != nil {
				origin = fmt.Sprintf("jetstream time_us %d", ev.TimeUS)
			}
			em.Invalid(ctx, "bluesky", origin, data, err)
			return
		}
	}
	j.cfg.Log.Debug("jetstream event skipped", "err", err)
}
