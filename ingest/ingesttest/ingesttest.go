// Package ingesttest is what the sources' tests share: an embedded NATS with an Emitter,
// cursors and a captured log, a way to run a source and stop it, and readers of what it
// stored.
package ingesttest

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Harness is an embedded NATS with what a source needs to publish to it.
type Harness struct {
	Env     *bustest.Env
	Emitter *ingest.Emitter
	Metrics *ingest.Metrics
	Cursors *ingest.Cursors
	Log     *SyncBuffer // everything logged, to check that no secret is in it
	Logger  *slog.Logger
}

// New starts a harness that lives until the test ends.
func New(t testing.TB) *Harness {
	t.Helper()
	env := bustest.Start(t)
	buf := &SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, _ := ingest.NewMetrics(nil) // unregistered: cannot fail
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur, err := ingest.OpenCursors(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{Env: env, Emitter: ingest.NewEmitter(env.JS, m, logger), Metrics: m, Cursors: cur, Log: buf, Logger: logger}
}

// Count is how many messages stream holds on subject.
func (h *Harness) Count(t testing.TB, stream, subject string) uint64 {
	t.Helper()
	return uint64(h.Env.Count(t, stream, subject))
}

// Cursor reads a stored cursor ("" when there is none).
func (h *Harness) Cursor(t testing.TB, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := h.Cursors.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// SetCursor stores a cursor, as an earlier run would have.
func (h *Harness) SetCursor(t testing.TB, key, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Cursors.Put(ctx, key, v); err != nil {
		t.Fatal(err)
	}
}

// Posts reads up to n messages stored on subject and returns their posts by id.
func (h *Harness) Posts(t testing.TB, subject string, n int) map[string]*post.Post {
	t.Helper()
	out := map[string]*post.Post{}
	for _, m := range h.Env.Messages(t, "POSTS", subject, n, 5*time.Second) {
		ps, bad := bus.DecodePosts(m.Headers(), m.Data())
		if len(bad) > 0 {
			t.Fatalf("bad lines on %s: %v", subject, bad)
		}
		for _, p := range ps {
			out[p.ID] = p
		}
	}
	return out
}

// Run starts src and returns a stop function that cancels it and returns Run's error.
// The source is stopped when the test ends at the latest.
func Run(t testing.TB, src ingest.Source, em *ingest.Emitter) (stop func() error) {
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

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Sleeps stands in for a source's sleep: it records the waits asked for and skips
// them, except a wait of Block, which lasts until the test ends (a poll interval, say).
type Sleeps struct {
	Block time.Duration

	mu    sync.Mutex
	waits []time.Duration
}

// Sleep records d and returns at once, or blocks until ctx ends when d is s.Block.
func (s *Sleeps) Sleep(ctx context.Context, d time.Duration) error {
	if s.Block != 0 && d == s.Block {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

// List returns the waits recorded so far.
func (s *Sleeps) List() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// SyncBuffer is a bytes.Buffer safe for a logger and a test to share.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CounterValue reads a counter.
func CounterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
