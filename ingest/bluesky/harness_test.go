package bluesky

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatnight/chatnight/bus/bustest"
	"github.com/chatnight/chatnight/community"
	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/post"
)

var testCommunities = []community.Community{
	{ID: "hcldr", Name: "#HCLDR", Hashtags: []string{"HCLDR"}},
	{ID: "hitsm", Name: "#HITsm", Hashtags: []string{"hitsm"}},
}

type harness struct {
	env     *bustest.Env
	em      *ingest.Emitter
	metrics *ingest.Metrics
	cursors *ingest.Cursors
	log     *syncBuffer
	logger  *slog.Logger
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := bustest.Start(t)
	buf := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := ingest.NewMetrics(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur, err := ingest.OpenCursors(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{env: env, em: ingest.NewEmitter(env.JS, m, logger), metrics: m, cursors: cur, log: buf, logger: logger}
}

func (h *harness) count(t *testing.T, stream, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.env.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func (h *harness) cursor(t *testing.T, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := h.cursors.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// posts reads the posts stored on subject, by id.
func (h *harness) posts(t *testing.T, subject string, n int) map[string]*post.Post {
	t.Helper()
	out := map[string]*post.Post{}
	for _, m := range h.env.Messages(t, "POSTS", subject, n, 5*time.Second) {
		ps, bad := post.Decode(m.Data())
		if len(bad) > 0 {
			t.Fatalf("bad lines on %s: %v", subject, bad)
		}
		for _, p := range ps {
			out[p.ID] = p
		}
	}
	return out
}

func run(t *testing.T, src ingest.Source, em *ingest.Emitter) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, em) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("source did not stop within 10s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

// sleeps records and skips waits, except block, which waits for the test to end.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
	block time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	if s.block != 0 && d == s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) list() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// cursorStub satisfies constructors that only check for a cursor store.
var cursorStub ingest.Cursors
