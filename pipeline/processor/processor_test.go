package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// fakeWriter stands for ClickHouse: it stores written posts in a threads.Memory (which
// the Deriver reads), records each successful write in order, and fails the writes that
// fail says to fail.
type fakeWriter struct {
	mem  *threads.Memory
	fail func(call int, b *storage.Batch) error // nil: every write works
	// hold, when set, makes the first write wait for it to close, after telling held.
	hold, held chan struct{}

	mu     sync.Mutex
	calls  int
	writes []written
}

type written struct {
	id    string   // the batch id
	posts []string // post ids, in row order
}

// WithoutDeleted: the fake store records no deletions.
func (w *fakeWriter) WithoutDeleted(_ context.Context, posts []*post.Post) ([]*post.Post, error) {
	return posts, nil
}

func (w *fakeWriter) Write(ctx context.Context, b *storage.Batch) error {
	w.mu.Lock()
	w.calls++
	call := w.calls
	w.mu.Unlock()
	if call == 1 && w.hold != nil {
		close(w.held)
		select {
		case <-w.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if w.fail != nil {
		if err := w.fail(call, b); err != nil {
			return err
		}
	}
	_ = w.mem.Write(ctx, b)
	ids := make([]string, len(b.Posts))
	for i := range b.Posts {
		ids[i] = b.Posts[i].ID
	}
	w.mu.Lock()
	w.writes = append(w.writes, written{id: b.ID, posts: ids})
	w.mu.Unlock()
	return nil
}

func (w *fakeWriter) done() []written {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

// writtenPosts is every post id written, in write order.
func writtenPosts(ws []written) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.posts...)
	}
	return out
}

func holds(b *storage.Batch, id string) bool {
	return slices.ContainsFunc(b.Posts, func(r storage.PostRow) bool { return r.ID == id })
}

// failingLookup is a thread look-up ClickHouse refuses for good.
type failingLookup struct{ err error }

func (f failingLookup) Posts(context.Context, string, []string) ([]storage.PostRow, error) {
	return nil, f.err
}

func (f failingLookup) Children(context.Context, string, []string) ([]storage.PostRow, error) {
	return nil, f.err
}

var tooManyParts = &clickhouse.Exception{Code: 252, Name: "TOO_MANY_PARTS", Message: "Too many parts"}
var typeMismatch = &clickhouse.Exception{Code: 53, Name: "TYPE_MISMATCH", Message: "Type mismatch"}

func testPost(n int) *post.Post {
	return &post.Post{
		ID: fmt.Sprintf("x:%d", n), Source: post.SourceX, Community: "hcldr", Kind: post.KindOriginal,
		Author:    post.Account{ID: fmt.Sprintf("x:%d", 100+n%3), Handle: fmt.Sprintf("user%d", n%3)},
		CreatedAt: time.Date(2026, 11, 25, 1, 40, n, 0, time.UTC), Text: fmt.Sprintf("post %d #hcldr", n), Hashtags: []string{"hcldr"},
	}
}

// message is what one test message carries: posts by number, and a malformed line
// after them when bad is set.
type message struct {
	posts []int
	bad   bool
}

func publish(t *testing.T, js jetstream.JetStream, msgs []message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := bus.NewPublisher(js)
	for i, m := range msgs {
		var ps []*post.Post
		for _, n := range m.posts {
			ps = append(ps, testPost(n))
		}
		body, err := post.Encode(nil, ps...)
		if err != nil {
			t.Fatal(err)
		}
		if m.bad {
			body = append(body, "{\"id\": \"x:broken\", \"source\": 7}\n"...)
		}
		msg := nats.NewMsg(bus.PostsSubject("hcldr", post.SourceX))
		msg.Data = body
		msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("test-%d", i))
		if len(ps) > 1 {
			msg.Header.Set(bus.HeaderBatchPosts, fmt.Sprint(len(ps)))
		}
		if err := pub.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// running is a processor under test.
type running struct {
	env     *bustest.Env
	metrics *Metrics
	cancel  context.CancelFunc
	done    chan error
}

func start(t *testing.T, env *bustest.Env, cfg Config, lk threads.Lookup, w Writer) *running {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := New(cfg, env.JS, derive.New(community.Defaults(), lk, time.Now), w, m, log)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{env: env, metrics: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // stop twice: the second one returns at once
}

// consumerInfo is the shared consumer's state: what is delivered, pending and acked
// (all zero before the processor creates it).
func consumerInfo(t *testing.T, js jetstream.JetStream) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, bus.PostsStream, bus.ProcessorConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return &jetstream.ConsumerInfo{} // the processor has not created it yet
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcessorWrites(t *testing.T) {
	tests := []struct {
		name       string
		msgs       []message
		batchPosts int
		fail       func(call int, b *storage.Batch) error
		// want
		batches     []string            // batch ids, in write order
		posts       []string            // post ids written, in order
		dead        map[string][]string // dead-letter subject -> reasons containing these
		writeErrors float64
	}{
		{
			name: "batches in stream order", batchPosts: 2,
			msgs:    []message{{posts: []int{1}}, {posts: []int{2}}, {posts: []int{3}}, {posts: []int{4}}, {posts: []int{5}}, {posts: []int{6}}},
			batches: []string{"posts-1-2", "posts-3-4", "posts-5-6"},
			posts:   []string{"x:1", "x:2", "x:3", "x:4", "x:5", "x:6"},
		},
		{
			name: "recoverable errors are retried", batchPosts: 3,
			msgs: []message{{posts: []int{1}}, {posts: []int{2}}, {posts: []int{3}}},
			fail: func(call int, b *storage.Batch) error {
				if call <= 2 {
					return fmt.Errorf("insert into posts: %w", tooManyParts)
				}
				return nil
			},
			batches:     []string{"posts-1-3"},
			posts:       []string{"x:1", "x:2", "x:3"},
			writeErrors: 2,
		},
		{
			name: "a message ClickHouse refuses is dead-lettered, the rest written", batchPosts: 4,
			msgs: []message{{posts: []int{1}}, {posts: []int{2, 3}}, {posts: []int{4}}},
			fail: func(call int, b *storage.Batch) error {
				if holds(b, "x:3") {
					return fmt.Errorf("insert into posts: %w", typeMismatch)
				}
				return nil
			},
			batches:     []string{"posts-1", "posts-3"},
			posts:       []string{"x:1", "x:4"},
			dead:        map[string][]string{"deadletter.write": {"rejected", "Type mismatch"}},
			writeErrors: 2, // the batch, then the message alone
		},
		{
			name: "a single message refused for good", batchPosts: 2,
			msgs: []message{{posts: []int{1, 2}}},
			fail: func(int, *storage.Batch) error {
				return &clickhouse.HTTPError{StatusCode: 400, Err: errors.New("bad request")}
			},
			dead:        map[string][]string{"deadletter.write": {"request"}},
			writeErrors: 1,
		},
		{
			name: "malformed lines are dead-lettered, their neighbours written", batchPosts: 2,
			msgs:    []message{{posts: []int{1}, bad: true}, {posts: []int{2}}},
			batches: []string{"posts-1-2"},
			posts:   []string{"x:1", "x:2"},
			dead:    map[string][]string{"deadletter.process": {"source"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := bustest.Start(t)
			publish(t, env.JS, tt.msgs)
			mem := threads.NewMemory()
			w := &fakeWriter{mem: mem, fail: tt.fail}
			r := start(t, env, Config{BatchPosts: tt.batchPosts, BatchWait: time.Minute}, mem, w)
			// Every message is handled: written or dead-lettered, and acked.
			waitFor(t, "every message acked", func() bool {
				info := consumerInfo(t, env.JS)
				return info.AckFloor.Stream == uint64(len(tt.msgs)) && info.NumAckPending == 0
			})
			ws := w.done()
			var ids []string
			for _, x := range ws {
				ids = append(ids, x.id)
			}
			if !slices.Equal(ids, tt.batches) {
				t.Errorf("batches written %q, want %q", ids, tt.batches)
			}
			if got := writtenPosts(ws); !slices.Equal(got, tt.posts) {
				t.Errorf("posts written %q, want %q", got, tt.posts)
			}
			if got := counterValue(r.metrics.Posts); got != float64(len(tt.posts)) {
				t.Errorf("posts_total = %v, want %d", got, len(tt.posts))
			}
			if got := counterValue(r.metrics.WriteErrors); got != tt.writeErrors {
				t.Errorf("write_errors_total = %v, want %v", got, tt.writeErrors)
			}
			for _, stage := range []string{DeadDecode, DeadWrite} {
				subject := bus.DeadLetterSubject(stage)
				want := tt.dead[subject]
				n := 0
				if want != nil {
					n = 1
				}
				if got := counterValue(r.metrics.DeadLetters.WithLabelValues(stage)); got != float64(n) {
					t.Errorf("dead_letters_total{stage=%s} = %v, want %d", stage, got, n)
				}
				if n == 0 {
					continue
				}
				dl := env.Messages(t, bus.DeadLetterStream, subject, 1, 5*time.Second)
				if len(dl) != 1 {
					t.Fatalf("%d dead letters on %s, want 1", len(dl), subject)
				}
				reason := dl[0].Headers().Get(bus.HeaderError)
				for _, w := range want {
					if !strings.Contains(reason, w) {
						t.Errorf("dead letter reason %q does not say %q", reason, w)
					}
				}
				if origin := dl[0].Headers().Get(bus.HeaderOrigin); !strings.HasPrefix(origin, "posts.hcldr.x seq ") {
					t.Errorf("dead letter origin %q, want the posts subject and sequence", origin)
				}
			}
		})
	}
}

// TestProcessorAcksOnlyAfterTheWrite holds the first write and checks that its
// messages stay unacknowledged until it is done.
func TestProcessorAcksOnlyAfterTheWrite(t *testing.T) {
	env := bustest.Start(t)
	publish(t, env.JS, []message{{posts: []int{1}}, {posts: []int{2}}, {posts: []int{3}}})
	mem := threads.NewMemory()
	w := &fakeWriter{mem: mem, hold: make(chan struct{}), held: make(chan struct{})}
	start(t, env, Config{BatchPosts: 3, BatchWait: time.Minute}, mem, w)
	select {
	case <-w.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the processor never wrote")
	}
	info := consumerInfo(t, env.JS)
	if info.NumAckPending != 3 || info.AckFloor.Stream != 0 {
		t.Fatalf("while the write runs: %d messages wait for an ack, ack floor %d; want 3 and 0", info.NumAckPending, info.AckFloor.Stream)
	}
	close(w.hold)
	waitFor(t, "the batch acked after its write", func() bool {
		info := consumerInfo(t, env.JS)
		return info.AckFloor.Stream == 3 && info.NumAckPending == 0
	})
	if got := writtenPosts(w.done()); !slices.Equal(got, []string{"x:1", "x:2", "x:3"}) {
		t.Errorf("posts written %q", got)
	}
}

// TestProcessorStopsOnFatalErrors: when ClickHouse refuses every row because of its
// setup (an unknown table or column, a wrong password), or a thread look-up fails for
// good, the processor stops with an error that says what to fix. Nothing is acked and
// nothing dead-lettered, so the batch is delivered again after the fix.
func TestProcessorStopsOnFatalErrors(t *testing.T) {
	unknownColumn := &clickhouse.Exception{Code: 47, Name: "UNKNOWN_IDENTIFIER", Message: "Missing columns: 'root_id'"}
	unknownTable := &clickhouse.Exception{Code: 60, Name: "UNKNOWN_TABLE", Message: "Unknown table chatnight.posts"}
	tests := []struct {
		name   string
		lookup threads.Lookup // nil: the fake writer's memory
		fail   func(int, *storage.Batch) error
		err    error
		says   string
		writes int
	}{
		{"the look-up fails for good", failingLookup{unknownColumn}, nil, unknownColumn, "derive rows failed for good", 0},
		{"the table is missing", nil, func(int, *storage.Batch) error { return fmt.Errorf("insert: %w", unknownTable) }, unknownTable, "fix the ClickHouse user, its grants or the schema", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := bustest.Start(t)
			publish(t, env.JS, []message{{posts: []int{1}}, {posts: []int{2}}})
			w := &fakeWriter{mem: threads.NewMemory(), fail: tt.fail}
			lk := tt.lookup
			if lk == nil {
				lk = w.mem
			}
			r := start(t, env, Config{BatchPosts: 2, BatchWait: time.Minute}, lk, w)
			var err error
			select {
			case err = <-r.done:
				r.done <- err // for the cleanup's stop
			case <-time.After(10 * time.Second):
				t.Fatal("the processor kept running on a fatal error")
			}
			if err == nil || !strings.Contains(err.Error(), tt.says) || !errors.Is(err, tt.err) {
				t.Fatalf("Run = %v, want %v saying %q", err, tt.err, tt.says)
			}
			w.mu.Lock()
			calls := w.calls
			w.mu.Unlock()
			if calls != tt.writes || len(w.done()) != 0 {
				t.Errorf("%d write calls, %d written; want %d calls, none written", calls, len(w.done()), tt.writes)
			}
			if info := consumerInfo(t, env.JS); info.AckFloor.Stream != 0 {
				t.Errorf("ack floor %d, want nothing acked", info.AckFloor.Stream)
			}
			for _, stage := range []string{DeadDecode, DeadWrite} {
				if got := counterValue(r.metrics.DeadLetters.WithLabelValues(stage)); got != 0 {
					t.Errorf("dead_letters_total{stage=%s} = %v, want 0", stage, got)
				}
			}
		})
	}
}
