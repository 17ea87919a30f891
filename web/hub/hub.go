// Package hub serves live posts to websocket viewers.
//
// One room per community fans out the messages of live.<community>, read through one
// ordered JetStream consumer per room (not per viewer). A viewer connects to
// /ws?community=ID[&session=ID][&since=SEQ] and gets, in order:
//
//   - hello: the session shown first and the resume point Seq;
//   - unless resumed, backfill messages with that session's posts from ClickHouse;
//   - live messages, each with its LIVE-stream sequence, all with Seq greater than the
//     hello's.
//
// The resume point is the stream's last sequence read before ClickHouse is queried:
// processors publish after their batch is committed, so a post is either in the
// backfill or arrives live (or both, and the page drops duplicates by post id). A
// viewer that reconnects with since=<last seq it saw> resumes from the room's ring of
// recent messages or from the stream, without a backfill, while the stream still holds
// what came after since; otherwise it gets a full backfill.
//
// Each viewer has a bounded send queue. A viewer whose queue is full is disconnected
// with close code 1013 and a reason, so it never slows the others; it may reconnect
// with since and resume.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/web/readmodel"
)

// Options tune the hub; zero values take the defaults.
type Options struct {
	WriteWait      time.Duration // time allowed to write one message; default 10s
	PongWait       time.Duration // time allowed to read the next pong; default 60s
	PingPeriod     time.Duration // pings are sent this often; default PongWait*9/10
	MaxMessageSize int64         // largest frame a viewer may send; default 4 KiB
	SendQueue      int           // messages queued per viewer before it is dropped; default 256
	MaxConnsPerIP  int           // concurrent websockets per remote IP; default 32, <0 unlimited
	Ring           int           // recent live messages each room keeps for resuming; default 2048
	BackfillChunk  int           // posts per backfill message; default 500
	BackfillWait   time.Duration // time allowed for the backfill query; default 15s
	MaxBackfills   int           // distinct session snapshots held at once, hub-wide (see backfills.go); default 8
	// AllowedOrigins are origins (scheme://host[:port]) allowed besides the page's own
	// host; "*" allows any.
	AllowedOrigins []string
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Redact, when set, filters the events of each live message before viewers see it
	// (the opt-out list: posts dropped, accounts pseudonymized). It runs on a room's
	// goroutine and must not block.
	Redact func([]live.Event) []live.Event
	// Resolve, when set, names the session a post stored with sessionID (a cell of
	// off-schedule activity) belongs to: its detected session. Live posts are sent with
	// that id, so the page shows a detected session's later cells as one session with
	// its backfill. It returns sessionID itself when it cannot tell. It runs on a
	// room's goroutine: it should answer from a cache and bound its wait by ctx.
	Resolve func(ctx context.Context, community, sessionID string) string
	// People, when set, names the person (package people) of each of some accounts of
	// community, opt-outs applied; live posts carry their author's (live.Post.Person),
	// so the page's leaderboard counts people as the API does. It runs on a room's
	// goroutine: it should answer from a cache and bound its wait by ctx.
	People func(ctx context.Context, community string, accounts []string) map[string]*live.Person
}

func (o Options) withDefaults() Options {
	if o.WriteWait <= 0 {
		o.WriteWait = 10 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 60 * time.Second
	}
	if o.PingPeriod <= 0 || o.PingPeriod >= o.PongWait {
		o.PingPeriod = o.PongWait * 9 / 10
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 4096
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.MaxConnsPerIP == 0 {
		o.MaxConnsPerIP = 32
	}
	if o.Ring <= 0 {
		o.Ring = 2048
	}
	if o.BackfillChunk <= 0 {
		o.BackfillChunk = 500
	}
	if o.BackfillWait <= 0 {
		o.BackfillWait = 15 * time.Second
	}
	if o.MaxBackfills <= 0 {
		o.MaxBackfills = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Backfiller reads what a viewer sees first: the requested session, or the current or
// most recent one, with its posts. It returns readmodel.ErrNotFound for an unknown session.
type Backfiller interface {
	Snapshot(ctx context.Context, community, session string) (readmodel.Snapshot, error)
}

// Hub owns the rooms and the viewers' connections.
type Hub struct {
	opts     Options
	js       jetstream.JetStream
	backfill Backfiller
	snaps    *backfills
	log      *slog.Logger
	metrics  *Metrics
	rooms    map[string]*room
	upgrader websocket.Upgrader

	mu      sync.Mutex
	clients map[*client]struct{}
	perIP   map[string]int
	state   int // stateNew, stateRunning, stateStopped
	conns   sync.WaitGroup
	started chan struct{}
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// New creates a hub with one room per community id.
func New(communities []string, js jetstream.JetStream, backfill Backfiller, m *Metrics, log *slog.Logger, opts Options) (*Hub, error) {
	if js == nil || backfill == nil || m == nil {
		return nil, errors.New("hub: JetStream, a backfiller and metrics are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		opts:     opts.withDefaults(),
		js:       js,
		backfill: backfill,
		log:      log,
		metrics:  m,
		rooms:    make(map[string]*room, len(communities)),
		perIP:    map[string]int{},
		clients:  map[*client]struct{}{},
		started:  make(chan struct{}),
	}
	h.snaps = newBackfills(h.opts.MaxBackfills)
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:    1024,
		WriteBufferSize:   4096,
		HandshakeTimeout:  h.opts.WriteWait,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before Upgrade
		EnableCompression: false,
	}
	for _, id := range communities {
		if err := post.ValidCommunity(id); err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
		h.rooms[id] = newRoom(h, id)
	}
	return h, nil
}

// Run runs the rooms until ctx ends, then closes every viewer's connection with 1001
// and returns once all of them are gone.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.state != stateNew {
		h.mu.Unlock()
		return errors.New("hub: Run called twice")
	}
	h.state = stateRunning
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, r := range h.rooms {
		wg.Add(2)
		go func() { defer wg.Done(); r.run(ctx) }()
		go func() { defer wg.Done(); r.consume(ctx) }()
	}
	close(h.started)
	<-ctx.Done()
	h.mu.Lock()
	h.state = stateStopped
	for c := range h.clients {
		c.kick(websocket.CloseGoingAway, "server shutting down", DropShutdown)
	}
	h.mu.Unlock()
	wg.Wait()
	h.conns.Wait()
	return nil
}

// Started is closed once Run has started the rooms.
func (h *Hub) Started() <-chan struct{} { return h.started }

// DisconnectAll closes every viewer's connection with code and text; viewers may
// reconnect. It is for operations (and tests of reconnection).
func (h *Hub) DisconnectAll(code int, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.kick(code, text, DropKicked)
	}
}

// NotifyOptOuts tells every connected viewer that the opt-out list changed (a message
// of TypeOptOuts). A viewer whose send queue is full misses it: it is about to be
// dropped as too slow, and reads everything afresh when it reconnects.
func (h *Hub) NotifyOptOuts() {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"`+TypeOptOuts+`"}`))
	if err != nil {
		h.log.Warn("opt-out notice not sent", "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- pm:
		default:
		}
	}
}

// Clients returns how many viewers are connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// admit registers a connection about to be upgraded; false when the hub is not running
// or the remote IP has too many.
func (h *Hub) admit(ip string) (ok bool, status int, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != stateRunning {
		return false, http.StatusServiceUnavailable, "live feed is not running"
	}
	if h.opts.MaxConnsPerIP > 0 && h.perIP[ip] >= h.opts.MaxConnsPerIP {
		return false, http.StatusTooManyRequests, fmt.Sprintf("too many live connections from %s (limit %d)", ip, h.opts.MaxConnsPerIP)
	}
	h.perIP[ip]++
	h.conns.Add(1)
	return true, 0, ""
}

func (h *Hub) release(ip string) {
	h.mu.Lock()
	if h.perIP[ip]--; h.perIP[ip] <= 0 {
		delete(h.perIP, ip)
	}
	h.mu.Unlock()
	h.conns.Done()
}

// originAllowed accepts requests without Origin (not from a browser), from the page's
// own host, or from AllowedOrigins.
func (h *Hub) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range h.opts.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Hub) reject(w http.ResponseWriter, status int, reason, msg string) {
	h.metrics.rejected.WithLabelValues(reason).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// ServeHTTP upgrades /ws?community=ID[&session=ID][&since=SEQ] to a websocket and serves
// the viewer until it goes away. Refusals come before the upgrade as plain HTTP: 400
// bad parameters, 403 origin, 404 unknown community or session, 429 too many
// connections from one IP, 503 live feed or ClickHouse unavailable.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rm, ok := h.rooms[q.Get("community")]
	if !ok {
		h.reject(w, http.StatusNotFound, RejectBad, fmt.Sprintf("unknown community %q", q.Get("community")))
		return
	}
	var since uint64
	hasSince := q.Has("since") && q.Get("since") != ""
	if hasSince {
		n, err := strconv.ParseUint(q.Get("since"), 10, 64)
		if err != nil {
			h.reject(w, http.StatusBadRequest, RejectBad, "since must be a stream sequence number")
			return
		}
		since = n
	}
	if !h.originAllowed(r) {
		h.reject(w, http.StatusForbidden, RejectOrigin, "origin not allowed")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		h.reject(w, http.StatusBadRequest, RejectBad, "websocket upgrade expected")
		return
	}
	ip := remoteIP(r)
	admitted, status, why := h.admit(ip)
	if !admitted {
		reason := RejectError
		if status == http.StatusTooManyRequests {
			reason = RejectPerIP
		}
		h.reject(w, status, reason, why)
		return
	}
	defer h.release(ip)

	open, err := h.opening(r.Context(), rm, q.Get("session"), since, hasSince)
	if err != nil {
		switch {
		case errors.Is(err, readmodel.ErrNotFound):
			h.reject(w, http.StatusNotFound, RejectBad, fmt.Sprintf("unknown session %q", q.Get("session")))
		default:
			h.log.Warn("websocket backfill failed", "community", rm.id, "err", err)
			h.reject(w, http.StatusServiceUnavailable, RejectError, "live feed unavailable: "+err.Error())
		}
		return
	}
	defer open.done()
	tw := &trackingWriter{ResponseWriter: w}
	conn, err := h.upgrader.Upgrade(tw, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	h.metrics.clients.Inc()
	defer h.metrics.clients.Dec()
	c := newClient(h, rm, conn)
	c.raw = tw.conn
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
	}()
	h.serve(c, &open)
}

// opening is what a new connection is sent before live messages. release, when set, lets
// go of the shared snapshot posts come from; call it once they are sent.
type opening struct {
	hello   Hello
	posts   []readmodel.Post
	release func()
}

func (o *opening) done() {
	o.posts = nil
	if o.release != nil {
		o.release()
	}
}

// opening reads the resume point and, unless the viewer can resume from since, the
// backfill.
func (h *Hub) opening(ctx context.Context, rm *room, session string, since uint64, hasSince bool) (opening, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.BackfillWait)
	defer cancel()
	stream, err := h.js.Stream(ctx, bus.LiveStream)
	if err != nil {
		return opening{}, fmt.Errorf("live stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return opening{}, fmt.Errorf("live stream: %w", err)
	}
	last := info.State.LastSeq
	hello := Hello{Type: TypeHello, Community: rm.id, ServerTime: h.opts.Now().UTC()}
	// Resumable when the stream still holds every message after since, and since is
	// of this stream (not of one that was reset).
	if hasSince && since <= last && since+1 >= info.State.FirstSeq {
		hello.Seq, hello.Resumed = since, true
		return opening{hello: hello}, nil
	}
	// The resume point is read before ClickHouse is queried; a snapshot shared with other
	// viewers comes with its own, earlier one.
	shared, release, err := h.snaps.get(ctx, rm.id, session, last, func(ctx context.Context) (readmodel.Snapshot, error) {
		start := time.Now()
		defer func() { h.metrics.backfill.Observe(time.Since(start).Seconds()) }()
		return h.backfill.Snapshot(ctx, rm.id, session)
	})
	if err != nil {
		return opening{}, err
	}
	snap := shared.snap
	hello.Seq, hello.Session, hello.Current, hello.Posts = shared.last, snap.Session, snap.Current, len(snap.Posts)
	return opening{hello: hello, posts: snap.Posts, release: release}, nil
}

// serve runs one upgraded connection: hello, backfill, catch-up, then the pumps.
func (h *Hub) serve(c *client, open *opening) {
	err := h.greet(c, *open)
	open.done() // the backfill is sent: its snapshot may go
	if err != nil {
		c.conn.Close()
		return
	}
	ok, err := h.joinRoom(c, open.hello.Seq)
	select {
	case <-c.kicked:
		c.room.remove(c)
		c.closeWith(c.kickCode, c.kickText)
		return
	default:
	}
	if !ok {
		if err != nil {
			h.log.Info("websocket viewer could not join", "community", c.room.id, "err", err)
		}
		c.closeWith(websocket.CloseTryAgainLater, "live feed unavailable, retry")
		return
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writePump(stop)
	}()
	c.readPump()
	c.room.remove(c)
	close(stop)
	wg.Wait()
}

func (h *Hub) greet(c *client, open opening) error {
	data, err := json.Marshal(open.hello)
	if err != nil {
		return err
	}
	if err := c.writeNow(data); err != nil {
		return err
	}
	if open.hello.Resumed {
		return nil
	}
	sid := ""
	if open.hello.Session != nil {
		sid = open.hello.Session.ID
	}
	posts := open.posts
	for {
		n := min(len(posts), h.opts.BackfillChunk)
		msg := Backfill{Type: TypeBackfill, Seq: open.hello.Seq, SessionID: sid, Posts: posts[:n], Last: n == len(posts)}
		if msg.Posts == nil {
			msg.Posts = []readmodel.Post{}
		}
		data, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		if err := c.writeNow(data); err != nil {
			return err
		}
		posts = posts[n:]
		if msg.Last {
			return nil
		}
	}
}

// joinRoom adds c to its room, first catching it up from the stream when the room's
// ring does not reach back to after.
func (h *Hub) joinRoom(c *client, after uint64) (bool, error) {
	for attempt := 0; attempt < 5; attempt++ {
		res, alive := c.room.tryJoin(c, after)
		switch {
		case !alive:
			return false, errors.New("room stopped")
		case res.ok:
			return true, nil
		case !res.ready:
			// The room's consumer is (re)starting; wait for it briefly.
			if !h.waitReady(c.room) {
				return false, errors.New("live consumer not ready")
			}
			continue
		}
		next, err := h.catchUp(c, after, res.knownFrom)
		if err != nil {
			return false, err
		}
		after = next
	}
	c.hub.metrics.dropped.WithLabelValues(DropBehind).Inc()
	return false, errors.New("could not catch up with the live stream")
}

func (h *Hub) waitReady(r *room) bool {
	deadline := time.NewTimer(h.opts.WriteWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			return false
		case <-r.done:
			return false
		case <-tick.C:
			if res, ok := r.tryJoin(nil, 0); !ok || res.ready {
				return ok
			}
		}
	}
}

// catchUp writes the room's messages after `after` up to at least `upTo` straight from
// the stream, and returns the last sequence written.
func (h *Hub) catchUp(c *client, after, upTo uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.BackfillWait)
	defer cancel()
	stream, err := h.js.Stream(ctx, bus.LiveStream)
	if err != nil {
		return after, err
	}
	for after < upTo {
		msg, err := stream.GetMsg(ctx, after+1, jetstream.WithGetMsgSubject(c.room.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return upTo, nil
		}
		if err != nil {
			return after, fmt.Errorf("catch up from live stream at %d: %w", after+1, err)
		}
		data, err := h.liveFrame(ctx, c.room.id, msg.Sequence, msg.Data)
		if err == nil {
			if err := c.writeNow(data); err != nil {
				return after, err
			}
		}
		after = msg.Sequence
	}
	return after, nil
}
