package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/web/readmodel"
)

const testCommunity = "hcldr"

// snapshotFunc adapts a function to Backfiller.
type snapshotFunc func(ctx context.Context, community, session string) (readmodel.Snapshot, error)

func (f snapshotFunc) Snapshot(ctx context.Context, community, session string) (readmodel.Snapshot, error) {
	return f(ctx, community, session)
}

func emptySnapshot(context.Context, string, string) (readmodel.Snapshot, error) {
	return readmodel.Snapshot{}, nil
}

type testHub struct {
	hub *Hub
	env *bustest.Env
	srv *httptest.Server
	url string // ws://host/ws
}

func startHub(t testing.TB, opts Options, bf Backfiller) *testHub {
	t.Helper()
	env := bustest.Start(t)
	if bf == nil {
		bf = snapshotFunc(emptySnapshot)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h, err := New([]string{testCommunity, "hitsm"}, env.JS, bf, m, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	<-h.Started()
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &testHub{hub: h, env: env, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"}
}

// publish sends events on live.<community> as a processor does and returns the sequence.
func (th *testHub) publish(t testing.TB, community string, events ...live.Event) uint64 {
	t.Helper()
	body, err := live.Encode(events)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := th.env.JS.Publish(ctx, bus.LiveSubject(community), body)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ack.Sequence
}

// lastSeq is the sequence of the last message on the LIVE stream.
func (th *testHub) lastSeq(t testing.TB) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := th.env.JS.Stream(ctx, bus.LiveStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func postEvent(id string, textLen int) live.Event {
	return live.Event{Type: live.TypePost, Community: testCommunity, Post: &live.Post{
		ID: id, Source: "sim", Kind: "original", AuthorID: "sim:ana", AuthorHandle: "ana",
		CreatedAt: time.Now().UTC(), Text: strings.Repeat("x", textLen), SessionID: "s1",
	}}
}

func (th *testHub) dial(t testing.TB, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(th.url+"?"+query, header)
	if err == nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

func (th *testHub) mustDial(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	conn, resp, err := th.dial(t, query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", query, err, status)
	}
	return conn
}

type message struct {
	Type    string          `json:"type"`
	Seq     uint64          `json:"seq"`
	Resumed bool            `json:"resumed"`
	Posts   json.RawMessage `json:"posts"`
	Last    bool            `json:"last"`
	Events  []live.Event    `json:"events"`
}

func read(t testing.TB, conn *websocket.Conn) message {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return m
}

// readOpening reads hello and, unless resumed, the backfill up to its last chunk.
func readOpening(t testing.TB, conn *websocket.Conn) (hello message, backfill []message) {
	t.Helper()
	hello = read(t, conn)
	if hello.Type != TypeHello {
		t.Fatalf("first message is %q, want hello", hello.Type)
	}
	if hello.Resumed {
		return hello, nil
	}
	for {
		m := read(t, conn)
		if m.Type != TypeBackfill {
			t.Fatalf("got %q during backfill", m.Type)
		}
		backfill = append(backfill, m)
		if m.Last {
			return hello, backfill
		}
	}
}

// liveSeqs reads live messages until one with seq `until`, returning their sequences.
func liveSeqs(t testing.TB, conn *websocket.Conn, until uint64) []uint64 {
	t.Helper()
	var seqs []uint64
	for {
		m := read(t, conn)
		if m.Type != TypeLive {
			t.Fatalf("got %q, want live", m.Type)
		}
		seqs = append(seqs, m.Seq)
		if m.Seq >= until {
			return seqs
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBackfillThenLive(t *testing.T) {
	th := startHub(t, Options{BackfillChunk: 2}, snapshotFunc(func(ctx context.Context, community, session string) (readmodel.Snapshot, error) {
		sess := &readmodel.Session{ID: "s1", Community: community}
		var posts []readmodel.Post
		for i := range 5 {
			posts = append(posts, readmodel.Post{Post: live.Post{ID: fmt.Sprintf("sim:%d", i)}})
		}
		return readmodel.Snapshot{Session: sess, Current: true, Posts: posts}, nil
	}))
	before := th.publish(t, testCommunity, postEvent("sim:old", 1))
	conn := th.mustDial(t, "community="+testCommunity)
	hello, backfill := readOpening(t, conn)
	if hello.Seq != before {
		t.Errorf("hello seq %d, want the stream's last %d", hello.Seq, before)
	}
	if len(backfill) != 3 {
		t.Fatalf("got %d backfill chunks, want 3 of at most 2 posts", len(backfill))
	}
	for _, b := range backfill {
		if b.Seq != hello.Seq {
			t.Errorf("backfill tagged %d, want %d", b.Seq, hello.Seq)
		}
	}
	other := th.publish(t, "hitsm", postEvent("sim:other", 1))
	seq := th.publish(t, testCommunity, postEvent("sim:new", 1))
	m := read(t, conn)
	if m.Type != TypeLive || m.Seq != seq || len(m.Events) != 1 || m.Events[0].Post.ID != "sim:new" {
		t.Fatalf("live message %+v, want seq %d with sim:new (not hitsm's %d)", m, seq, other)
	}
}

// An opt-out change reaches every open page, between live messages.
func TestNotifyOptOuts(t *testing.T) {
	th := startHub(t, Options{}, nil)
	a := th.mustDial(t, "community="+testCommunity)
	b := th.mustDial(t, "community=hitsm")
	readOpening(t, a)
	readOpening(t, b)
	waitFor(t, "both viewers in their rooms", 5*time.Second, func() bool { return th.hub.Clients() == 2 })
	th.hub.NotifyOptOuts()
	for _, conn := range []*websocket.Conn{a, b} {
		if m := read(t, conn); m.Type != TypeOptOuts {
			t.Errorf("got %q, want %q", m.Type, TypeOptOuts)
		}
	}
	seq := th.publish(t, testCommunity, postEvent("sim:after", 1))
	if m := read(t, a); m.Type != TypeLive || m.Seq != seq {
		t.Errorf("after the notice got %+v, want live %d", m, seq)
	}
}

// A post committed and published while the backfill is read must arrive live: the
// resume point is read before ClickHouse is queried.
func TestPublishDuringBackfillArrivesLive(t *testing.T) {
	var th *testHub
	var published uint64
	th = startHub(t, Options{}, snapshotFunc(func(ctx context.Context, community, session string) (readmodel.Snapshot, error) {
		published = th.publish(t, testCommunity, postEvent("sim:racing", 1))
		return readmodel.Snapshot{}, nil
	}))
	conn := th.mustDial(t, "community="+testCommunity)
	hello, _ := readOpening(t, conn)
	if hello.Seq >= published {
		t.Fatalf("hello seq %d is not before the racing message %d", hello.Seq, published)
	}
	if seqs := liveSeqs(t, conn, published); seqs[len(seqs)-1] != published {
		t.Fatalf("got %v, want %d", seqs, published)
	}
}

func TestResumeBySequence(t *testing.T) {
	tests := []struct {
		name        string
		ring        int
		since       func(seqs []uint64) uint64 // from the 6 sequences published
		purgeBefore int                        // purge the stream below seqs[purgeBefore]
		wantResumed bool
		wantFrom    int // index of the first sequence expected live
	}{
		{name: "from the ring", ring: 64, since: func(s []uint64) uint64 { return s[2] }, wantResumed: true, wantFrom: 3},
		{name: "from the stream, ring too short", ring: 2, since: func(s []uint64) uint64 { return s[0] }, wantResumed: true, wantFrom: 1},
		{name: "nothing missed", ring: 64, since: func(s []uint64) uint64 { return s[5] }, wantResumed: true, wantFrom: 6},
		{name: "stream no longer holds it", ring: 64, since: func(s []uint64) uint64 { return s[0] }, purgeBefore: 3, wantResumed: false, wantFrom: 6},
		{name: "since from another stream", ring: 64, since: func(s []uint64) uint64 { return s[5] + 1000 }, wantResumed: false, wantFrom: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := startHub(t, Options{Ring: tt.ring}, nil)
			first := th.mustDial(t, "community="+testCommunity)
			readOpening(t, first)
			var seqs []uint64
			for i := range 6 {
				seqs = append(seqs, th.publish(t, testCommunity, postEvent(fmt.Sprintf("sim:%d", i), 1)))
				th.publish(t, "hitsm", postEvent(fmt.Sprintf("sim:h%d", i), 1)) // interleaved, not ours
			}
			// The first viewer saw them all, so the room has them too.
			liveSeqs(t, first, seqs[5])
			if tt.purgeBefore > 0 {
				stream, err := th.env.JS.Stream(context.Background(), bus.LiveStream)
				if err != nil {
					t.Fatal(err)
				}
				if err := stream.Purge(context.Background(), jetstream.WithPurgeSequence(seqs[tt.purgeBefore])); err != nil {
					t.Fatal(err)
				}
			}
			since := tt.since(seqs)
			conn := th.mustDial(t, fmt.Sprintf("community=%s&since=%d", testCommunity, since))
			hello, _ := readOpening(t, conn)
			if hello.Resumed != tt.wantResumed {
				t.Fatalf("resumed = %v, want %v", hello.Resumed, tt.wantResumed)
			}
			marker := th.publish(t, testCommunity, postEvent("sim:marker", 1))
			got := liveSeqs(t, conn, marker)
			want := append(append([]uint64(nil), seqs[tt.wantFrom:]...), marker)
			if !tt.wantResumed {
				want = []uint64{marker} // the backfill covered the rest
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after since=%d got sequences %v, want exactly %v", since, got, want)
			}
		})
	}
}

func TestSlowClientIsDropped(t *testing.T) {
	th := startHub(t, Options{SendQueue: 4, WriteWait: 5 * time.Second}, nil)
	slow := th.mustDial(t, "community="+testCommunity)
	readOpening(t, slow)
	fast := th.mustDial(t, "community="+testCommunity)
	readOpening(t, fast)

	var mu sync.Mutex
	var fastSeqs []uint64
	fastErr := make(chan error, 1)
	go func() {
		for {
			fast.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, data, err := fast.ReadMessage()
			if err != nil {
				fastErr <- err
				return
			}
			if seq, ok := SeqOf(data); ok {
				mu.Lock()
				fastSeqs = append(fastSeqs, seq)
				mu.Unlock()
			}
		}
	}()

	fastGot := func(seq uint64) bool {
		select {
		case err := <-fastErr:
			t.Fatalf("fast viewer failed: %v", err)
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		return len(fastSeqs) > 0 && fastSeqs[len(fastSeqs)-1] == seq
	}
	// Big messages fill the slow viewer's socket buffers, then its queue. Each is
	// published once the fast viewer has the one before, so only the slow one lags.
	dropped := func() bool { return value(th.hub.metrics.dropped.WithLabelValues(DropSlow)) >= 1 }
	var published []uint64
	deadline := time.Now().Add(30 * time.Second)
	for !dropped() {
		if time.Now().After(deadline) {
			t.Fatalf("slow viewer not dropped after %d messages (write %v, clients %v)", len(published), value(th.hub.metrics.dropped.WithLabelValues(DropWrite)), value(th.hub.metrics.clients))
		}
		seq := th.publish(t, testCommunity, postEvent(fmt.Sprintf("sim:%d", len(published)), 256<<10))
		published = append(published, seq)
		waitFor(t, "the fast viewer to get message "+fmt.Sprint(seq), 10*time.Second, func() bool { return fastGot(seq) })
	}
	// The others keep receiving.
	last := th.publish(t, testCommunity, postEvent("sim:after", 1))
	published = append(published, last)
	waitFor(t, "the fast viewer to get the last message", 10*time.Second, func() bool { return fastGot(last) })
	mu.Lock()
	if fmt.Sprint(fastSeqs) != fmt.Sprint(published) {
		t.Errorf("fast viewer got %d messages, want all %d in order", len(fastSeqs), len(published))
	}
	mu.Unlock()
	if got := value(th.hub.metrics.dropped.WithLabelValues(DropSlow)); got != 1 {
		t.Errorf("dropped{slow} = %v, want 1", got)
	}

	// The slow viewer finds a close frame with a reason after what was already sent.
	var closeErr *websocket.CloseError
	for {
		slow.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := slow.ReadMessage()
		if err == nil {
			continue
		}
		if !errors.As(err, &closeErr) {
			t.Fatalf("slow viewer read error %v, want a close frame", err)
		}
		break
	}
	if closeErr.Code != websocket.CloseTryAgainLater || !strings.Contains(closeErr.Text, "too slow") {
		t.Fatalf("slow viewer closed with %d %q, want 1013 and a reason", closeErr.Code, closeErr.Text)
	}
	select {
	case err := <-fastErr:
		t.Fatalf("fast viewer failed: %v", err)
	default:
	}
}

func TestOriginCheck(t *testing.T) {
	th := startHub(t, Options{AllowedOrigins: []string{"https://chat.example.org"}}, nil)
	host := strings.TrimPrefix(th.srv.URL, "http://")
	tests := []struct {
		origin string
		want   int
	}{
		{"", http.StatusSwitchingProtocols},
		{"http://" + host, http.StatusSwitchingProtocols},
		{"https://chat.example.org", http.StatusSwitchingProtocols},
		{"https://evil.example.com", http.StatusForbidden},
		{"http://" + host + ".evil.example.com", http.StatusForbidden},
		{"null", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			header := http.Header{}
			if tt.origin != "" {
				header.Set("Origin", tt.origin)
			}
			conn, resp, err := th.dial(t, "community="+testCommunity, header)
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("origin %q: HTTP %d (%v), want %d", tt.origin, resp.StatusCode, err, tt.want)
			}
			if conn != nil {
				conn.Close()
			}
		})
	}
	if got := value(th.hub.metrics.rejected.WithLabelValues(RejectOrigin)); got != 3 {
		t.Errorf("rejected{origin} = %v, want 3", got)
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	th := startHub(t, Options{MaxMessageSize: 1024}, nil)
	conn := th.mustDial(t, "community="+testCommunity)
	readOpening(t, conn)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("a", 4096))); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("read after an oversized frame: %v, want close 1009", err)
	}
	waitFor(t, "dropped{too_big}", 5*time.Second, func() bool {
		return value(th.hub.metrics.dropped.WithLabelValues(DropTooBig)) == 1
	})
	waitFor(t, "the viewer to be gone", 5*time.Second, func() bool {
		return value(th.hub.metrics.clients) == 0
	})
}

func TestPerIPLimit(t *testing.T) {
	th := startHub(t, Options{MaxConnsPerIP: 2}, nil)
	a := th.mustDial(t, "community="+testCommunity)
	th.mustDial(t, "community=hitsm")
	_, resp, err := th.dial(t, "community="+testCommunity, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("third connection from one IP: err %v, HTTP %d; want 429", err, status)
	}
	a.Close()
	waitFor(t, "a slot to free up", 5*time.Second, func() bool {
		conn, _, err := th.dial(t, "community="+testCommunity, nil)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

func TestRefusals(t *testing.T) {
	th := startHub(t, Options{}, snapshotFunc(func(ctx context.Context, community, session string) (readmodel.Snapshot, error) {
		if session != "" {
			return readmodel.Snapshot{}, readmodel.ErrNotFound
		}
		return readmodel.Snapshot{}, nil
	}))
	tests := []struct {
		query string
		want  int
	}{
		{"community=nope", http.StatusNotFound},
		{"", http.StatusNotFound},
		{"community=hcldr&since=abc", http.StatusBadRequest},
		{"community=hcldr&session=missing", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, resp, _ := th.dial(t, tt.query, nil)
			if resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("%q: %v, want HTTP %d", tt.query, resp, tt.want)
			}
		})
	}
}

func TestDisconnectAllAndShutdown(t *testing.T) {
	th := startHub(t, Options{}, nil)
	conn := th.mustDial(t, "community="+testCommunity)
	readOpening(t, conn)
	th.hub.DisconnectAll(websocket.CloseServiceRestart, "reconnect please")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart || ce.Text != "reconnect please" {
		t.Fatalf("after DisconnectAll: %v, want close 1012", err)
	}
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
