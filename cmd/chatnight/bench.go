package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/processor"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// benchResult is the last line `chatnight bench` prints.
type benchResult struct {
	E2EPostsPerS           float64 `json:"e2e_posts_per_s"`
	RawNATSMsgsPerS        float64 `json:"raw_nats_msgs_per_s"`
	RawClickHouseRowsPerS  float64 `json:"raw_clickhouse_rows_per_s"`
	Ratio                  float64 `json:"ratio"`
	P99CommitLatencyMS     float64 `json:"p99_commit_latency_ms"`
	RSSMB                  float64 `json:"rss_mb"`
	PostsPerMsg            int     `json:"posts_per_msg"`
	RawNATSPostsPerS       float64 `json:"raw_nats_posts_per_s"`
	RawClickHouseAllRowsPS float64 `json:"raw_clickhouse_all_rows_per_s"`
	Bound                  string  `json:"bound"`
	// Disk per post stored, at the end of the run (parts not merged yet included): all
	// chatnight tables of the engine, and the POSTS stream of JetStream.
	ClickHouseBytesPerPost float64 `json:"clickhouse_bytes_per_post"`
	NATSBytesPerPost       float64 `json:"nats_bytes_per_post"`
	// Budget is the CPU of the end-to-end run per post committed, stage by stage.
	Budget []budgetLine `json:"budget"`
}

type benchOptions struct {
	duration    time.Duration
	rawDuration time.Duration
	processors  int
	postsPerMsg int
	maxLag      int
	cpuProfile  string
}

// benchCmd measures the whole pipeline on embedded NATS and ClickHouse, and in the same
// run the raw limits it is built on, so the ratio compares like with like on this machine.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	var bo benchOptions
	fs := newFlagSet("bench", "bench [--duration 30s] [flags]", stdout, &o, flagsProcessor)
	fs.DurationVar(&bo.duration, "duration", 30*time.Second, "how long simulated posts are published end to end (draining the backlog comes on top)")
	fs.DurationVar(&bo.rawDuration, "raw-duration", 5*time.Second, "how long each raw limit (JetStream alone, ClickHouse inserts alone) is measured")
	fs.IntVar(&bo.processors, "processors", 2, "processors sharing the durable consumer")
	fs.IntVar(&bo.postsPerMsg, "posts-per-msg", 500, "posts per NATS message, as the simulator and archive import send them")
	fs.IntVar(&bo.maxLag, "max-lag", 100000, "the publisher waits while more posts than this are published but not committed")
	fs.StringVar(&bo.cpuProfile, "cpuprofile", "", "write the CPU profile of the end-to-end run here (stages are pprof labels: go tool pprof -tagfocus)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.BatchPosts <= 0 || bo.processors <= 0 || bo.postsPerMsg <= 0 || bo.duration <= 0 || bo.rawDuration <= 0 {
		return errors.New("--duration, --raw-duration, --processors, --posts-per-msg and --batch-posts must be positive")
	}
	log, err := o.logger(stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "chatnight-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.DataDir, o.NATSListen, o.ClickHouseHTTPAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
	st := newStack(log)
	defer st.close()
	if err := st.connectNATS(ctx, &o, true, "chatnight-bench"); err != nil {
		return err
	}
	if err := st.connectClickHouse(ctx, &o); err != nil {
		return err
	}
	cfg := community.Defaults()
	base, ok := cfg.Lookup("hcldr")
	if !ok {
		base = &cfg.Communities[0]
	}
	nights := &nightSource{base: base, size: 20000}
	var res benchResult
	res.PostsPerMsg = bo.postsPerMsg

	fmt.Fprintf(stdout, "bench: raw JetStream publish+consume for %s (%d posts per message)\n", bo.rawDuration, bo.postsPerMsg)
	msgs, err := benchRawNATS(ctx, st.js, nights.with("rawnats"), bo)
	if err != nil {
		return fmt.Errorf("raw NATS: %w", err)
	}
	res.RawNATSMsgsPerS = msgs
	fmt.Fprintf(stdout, "bench: %.0f messages/s (%.0f posts/s); peak RSS so far %.0f MiB\n", msgs, msgs*float64(bo.postsPerMsg), peakRSSMB())
	res.RawNATSPostsPerS = msgs * float64(bo.postsPerMsg)

	fmt.Fprintf(stdout, "bench: raw ClickHouse inserts for %s (%d-post batches: posts, sessions, Q/A, edges)\n", bo.rawDuration, o.BatchPosts)
	postsPS, rowsPS, err := benchRawClickHouse(ctx, st, cfg, nights.with("rawch"), o.BatchPosts, bo.rawDuration)
	if err != nil {
		return fmt.Errorf("raw ClickHouse: %w", err)
	}
	res.RawClickHouseRowsPerS, res.RawClickHouseAllRowsPS = postsPS, rowsPS
	fmt.Fprintf(stdout, "bench: %.0f posts/s (%.0f rows/s); peak RSS so far %.0f MiB\n", postsPS, rowsPS, peakRSSMB())

	fmt.Fprintf(stdout, "bench: end to end for %s with %d processors\n", bo.duration, bo.processors)
	budget, err := startBudget()
	if err != nil {
		return err
	}
	e2e, p99, posts, err := benchE2E(ctx, st, cfg, nights.with("e2e"), o, bo, log)
	lines, berr := budget.stop(posts, bo.cpuProfile)
	if err != nil {
		return fmt.Errorf("end to end: %w", err)
	}
	if berr != nil {
		return berr
	}
	res.Budget = lines
	printBudget(stdout, lines)
	res.E2EPostsPerS, res.P99CommitLatencyMS = e2e, p99
	limit := res.RawNATSPostsPerS
	res.Bound = "nats"
	if res.RawClickHouseRowsPerS < limit {
		limit, res.Bound = res.RawClickHouseRowsPerS, "clickhouse"
	}
	if limit > 0 {
		res.Ratio = round(res.E2EPostsPerS/limit, 3)
	}
	res.RSSMB = peakRSSMB()
	if err := diskPerPost(ctx, st, posts, &res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench: disk per post stored: ClickHouse %.0f bytes (all chatnight tables), JetStream %.0f bytes (POSTS stream)\n",
		res.ClickHouseBytesPerPost, res.NATSBytesPerPost)
	for _, f := range []*float64{&res.E2EPostsPerS, &res.RawNATSMsgsPerS, &res.RawClickHouseRowsPerS, &res.RawNATSPostsPerS, &res.RawClickHouseAllRowsPS} {
		*f = round(*f, 0)
	}
	res.P99CommitLatencyMS, res.RSSMB = round(res.P99CommitLatencyMS, 1), round(res.RSSMB, 1)
	fmt.Fprintf(stdout, "bench: rates in posts/s; raw_nats_msgs_per_s carries %d posts per message (raw_nats_posts_per_s); raw_clickhouse_rows_per_s counts posts rows written with their derived rows (all rows: raw_clickhouse_all_rows_per_s); ratio = e2e / min(raw in posts/s), bound by %s\n",
		bo.postsPerMsg, res.Bound)
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))
	return nil
}

// nightSource hands out simulated posts, night after night, for one community id.
type nightSource struct {
	base *community.Community
	size int
}

func (n *nightSource) with(id string) *nightStream {
	cm := *n.base
	cm.ID = "bench-" + id
	// Nights a day apart from a year ago: posts must not lie in the future.
	start := time.Now().UTC().AddDate(-1, 0, 0).Truncate(24 * time.Hour).Add(time.Hour)
	return &nightStream{cm: &cm, size: n.size, start: start}
}

type nightStream struct {
	cm    *community.Community
	size  int
	seed  uint64
	start time.Time
}

// next returns the next night's posts; nights follow one another a day apart.
func (s *nightStream) next() []*post.Post {
	s.seed++
	n := simulator.Night{Community: s.cm, Seed: s.seed, Posts: s.size, Start: s.start.Add(time.Duration(s.seed) * 24 * time.Hour)}
	return simulator.Generate(n)
}

// messages encodes the next night as bulk messages of per posts each.
func (s *nightStream) messages(per int) ([]*nats.Msg, int, error) {
	posts := s.next()
	var out []*nats.Msg
	for i := 0; i < len(posts); i += per {
		chunk := posts[i:min(i+per, len(posts))]
		m := bus.PostsMsg(s.cm.ID, post.SourceSim, fmt.Sprintf("bench|%s|%d|%d", s.cm.ID, s.seed, i), chunk...)
		out = append(out, m)
	}
	return out, len(posts), nil
}

// benchRawNATS publishes bulk messages and consumes them with an explicit ack each, at
// the same time, on a stream of its own: JetStream's own rate on this machine.
func benchRawNATS(ctx context.Context, js jetstream.JetStream, src *nightStream, bo benchOptions) (float64, error) {
	const stream = "BENCHRAW"
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{"benchraw.>"}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	}); err != nil {
		return 0, err
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), stream) }()
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 20000,
	})
	if err != nil {
		return 0, err
	}
	var consumed atomic.Int64
	published := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	deadline := start.Add(bo.rawDuration)
	pubDone := make(chan struct{})
	g.Go(func() error {
		defer close(pubDone)
		pub := bus.NewPublisher(js)
		for time.Now().Before(deadline) {
			batch, _, err := src.messages(bo.postsPerMsg)
			if err != nil {
				return err
			}
			for _, m := range batch {
				m.Subject = "benchraw." + src.cm.ID // not posts.>: POSTS owns those subjects
				if err := pub.PublishMsg(gctx, m); err != nil {
					return err
				}
				if published++; published%64 == 0 {
					// Bounded in flight, like the processors' pull (bulk messages are large).
					if err := pub.Flush(gctx); err != nil {
						return err
					}
				}
			}
		}
		return pub.Flush(gctx)
	})
	var elapsed time.Duration
	g.Go(func() error {
		iter, err := cons.Messages(jetstream.PullMaxBytes(16 << 20))
		if err != nil {
			return err
		}
		defer iter.Stop()
		for {
			select {
			case <-pubDone:
				if consumed.Load() >= int64(published) {
					elapsed = time.Since(start)
					return nil
				}
			default:
			}
			m, err := iter.Next(jetstream.NextMaxWait(100 * time.Millisecond))
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			if err != nil {
				return err
			}
			if err := m.Ack(); err != nil {
				return err
			}
			consumed.Add(1)
		}
	})
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return float64(consumed.Load()) / elapsed.Seconds(), nil
}

// benchRawClickHouse writes the rows the processor would write for simulated batches
// (derived beforehand, outside the clock) with the processor's Writer: clickhouse-go
// batch inserts of the same tables alone. It returns posts/s and all rows/s.
func benchRawClickHouse(ctx context.Context, st *stack, cfg *community.Config, src *nightStream, batchPosts int, d time.Duration) (float64, float64, error) {
	mem := threads.NewMemory()
	dv := derive.New(cfg, mem, time.Now)
	w, err := st.newWriter()
	if err != nil {
		return 0, 0, err
	}
	var took time.Duration
	var posts, rows int
	for took < d {
		night := src.next()
		for i := 0; i < len(night); i += batchPosts {
			b, err := dv.Derive(ctx, night[i:min(i+batchPosts, len(night))])
			if err != nil {
				return 0, 0, err
			}
			_ = mem.Write(ctx, b)
			start := time.Now()
			if err := w.Write(ctx, b); err != nil {
				return 0, 0, err
			}
			took += time.Since(start)
			posts += len(b.Posts)
			rows += b.Len()
		}
	}
	return float64(posts) / took.Seconds(), float64(rows) / took.Seconds(), nil
}

// benchE2E publishes simulated nights as fast as the pipeline keeps up (the backlog is
// held under --max-lag posts) for the duration, then waits until every post is
// committed. The rate is posts committed over the whole time.
func benchE2E(ctx context.Context, st *stack, cfg *community.Config, src *nightStream, o Options, bo benchOptions, log interface {
	Info(string, ...any)
}) (postsPerS, p99ms float64, posts int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var committed atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	onCommit := func(posts int, lat time.Duration) {
		committed.Add(int64(posts))
		mu.Lock()
		latencies = append(latencies, lat)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	procCtx, stopProcs := context.WithCancel(ctx) // not gctx: that ends when publishing does
	defer stopProcs()
	var procs sync.WaitGroup
	procErr := make(chan error, bo.processors)
	for i := 0; i < bo.processors; i++ {
		w, err := st.newWriter()
		if err != nil {
			return 0, 0, 0, err
		}
		m, _ := processor.NewMetrics(nil) // unregistered (one per processor): cannot fail
		p := processor.New(processor.Config{BatchPosts: o.BatchPosts, BatchWait: o.BatchWait, OnCommit: onCommit}, st.js,
			derive.New(cfg, threads.NewClickHouse(st.ch), time.Now).WithCrossPosts(copies.NewClickHouse(st.ch, cfg.People)), w, m, st.log.With("tier", "process", "n", i))
		procs.Add(1)
		go func() {
			defer procs.Done()
			if err := p.Run(procCtx); err != nil {
				procErr <- err
			}
		}()
	}
	defer func() {
		// Stop before waiting: returning early with an error must not wait on running
		// processors.
		stopProcs()
		procs.Wait()
	}()
	start := time.Now()
	var published int64
	publish := func(gctx context.Context) error {
		pub := bus.NewPublisher(st.js)
		deadline := start.Add(bo.duration)
		for time.Now().Before(deadline) {
			var msgs []*nats.Msg
			var err error
			pprof.Do(gctx, pprof.Labels(storage.StageLabel, "simulate"), func(context.Context) { msgs, _, err = src.messages(bo.postsPerMsg) })
			if err != nil {
				return err
			}
			for _, m := range msgs {
				for published-committed.Load() > int64(bo.maxLag) {
					select {
					case <-gctx.Done():
						return gctx.Err()
					case err := <-procErr:
						return err
					case <-time.After(5 * time.Millisecond):
					}
				}
				if err := pub.PublishMsg(gctx, m); err != nil {
					return err
				}
				published += int64(bus.PostsIn(m.Header))
			}
		}
		return pub.Flush(gctx)
	}
	g.Go(func() (err error) {
		pprof.Do(gctx, pprof.Labels(storage.StageLabel, "publish"), func(gctx context.Context) { err = publish(gctx) })
		return err
	})
	if err := g.Wait(); err != nil {
		return 0, 0, 0, err
	}
	// Draining fails only when it stalls: on a busy machine it may take long, but a
	// minute without a commit means the pipeline is stuck.
	const stall = time.Minute
	last, lastAt := committed.Load(), time.Now()
	for committed.Load() < published {
		if n := committed.Load(); n != last {
			last, lastAt = n, time.Now()
		}
		if time.Since(lastAt) > stall {
			return 0, 0, 0, fmt.Errorf("only %d of %d posts committed, none in the last %s", last, published, stall)
		}
		select {
		case err := <-procErr:
			return 0, 0, 0, err
		case <-ctx.Done():
			return 0, 0, 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	stopProcs()
	log.Info("end to end done", "posts", published, "elapsed", elapsed.Round(time.Millisecond))
	mu.Lock()
	defer mu.Unlock()
	return float64(committed.Load()) / elapsed.Seconds(), percentile(latencies, 0.99), committed.Load(), nil
}

// Disk queries of the bench, over every post the run stored.
const (
	queryStoredPosts = `SELECT count() FROM chatnight.posts FINAL`
	queryDiskBytes   = `SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = 'chatnight'`
)

// diskPerPost measures the bytes on disk per post stored, for archive estimates; the
// POSTS stream holds the e2ePosts of the end-to-end run only.
func diskPerPost(ctx context.Context, st *stack, e2ePosts int64, res *benchResult) error {
	var posts, bytes uint64
	if err := st.ch.QueryRow(ctx, queryStoredPosts).Scan(&posts); err != nil {
		return fmt.Errorf("count stored posts: %w", err)
	}
	if err := st.ch.QueryRow(ctx, queryDiskBytes).Scan(&bytes); err != nil {
		return fmt.Errorf("measure ClickHouse parts: %w", err)
	}
	info, err := st.js.Stream(ctx, bus.PostsStream)
	if err != nil {
		return fmt.Errorf("measure the %s stream: %w", bus.PostsStream, err)
	}
	state := info.CachedInfo().State
	if posts > 0 {
		res.ClickHouseBytesPerPost = round(float64(bytes)/float64(posts), 0)
	}
	if e2ePosts > 0 {
		res.NATSBytesPerPost = round(float64(state.Bytes)/float64(e2ePosts), 0)
	}
	return nil
}

func percentile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}

// peakRSSMB is the process's peak resident set (VmHWM), in MiB.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func round(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}
