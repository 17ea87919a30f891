package processor

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// TestMain runs the tests, stops the shared engine, then checks that no goroutine of
// a processor is left running.
func TestMain(m *testing.M) {
	code := chdbtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// benchBatchPosts sets BenchmarkProcessor's batch size: go test -bench Processor -batch-posts 10000.
var benchBatchPosts = flag.Int("batch-posts", 5000, "posts per batch in BenchmarkProcessor")

// benchCrossPosts looks for cross-posts as `chatnight run` does; -cross-posts=false
// measures without, side by side.
var benchCrossPosts = flag.Bool("cross-posts", true, "find cross-posts in BenchmarkProcessor, as chatnight run does")

// BenchmarkProcessor measures the processor alone on the embedded engine: a backlog of
// simulated posts is published first, then the processor drains it. It reports posts/s
// and the write latency of a batch.
func BenchmarkProcessor(b *testing.B) {
	const posts = 50000
	store := chdbtest.Start(b)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := community.Defaults()
	cm, _ := cfg.Lookup("hcldr")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := bustest.Start(b)
		ctx, cancel := context.WithCancel(context.Background())
		night := simulator.Night{Community: cm, Seed: uint64(1000 + i), Posts: posts, Start: time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)}
		if _, err := simulator.Publish(ctx, night, simulator.Options{BatchSize: 500}, ingest.NewEmitter(env.JS, nil, log)); err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		m, err := NewMetrics(reg)
		if err != nil {
			b.Fatal(err)
		}
		wm, err := storage.NewWriterMetrics(reg)
		if err != nil {
			b.Fatal(err)
		}
		d := derive.New(cfg, threads.NewClickHouse(store.Conn), time.Now)
		if *benchCrossPosts {
			d = d.WithCrossPosts(copies.NewClickHouse(store.Conn, cfg.People))
		}
		p := New(Config{BatchPosts: *benchBatchPosts}, env.JS, d, storage.NewWriter(store.Conn, wm), m, log)
		b.StartTimer()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		for counterValue(m.Posts) < posts {
			select {
			case err := <-done:
				b.Fatalf("processor stopped: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		b.ReportMetric(posts/elapsed.Seconds(), "posts/s")
		b.ReportMetric(histogramMean(m.WriteDuration)*1000, "ms/batch-write")
		b.ReportMetric(histogramMean(m.DeriveDuration)*1000, "ms/batch-derive")
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func histogramMean(h prometheus.Histogram) float64 {
	var m dto.Metric
	_ = h.Write(&m)
	if m.GetHistogram().GetSampleCount() == 0 {
		return 0
	}
	return m.GetHistogram().GetSampleSum() / float64(m.GetHistogram().GetSampleCount())
}
