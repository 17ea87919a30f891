package hub

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chatnight/chatnight/pipeline/bus"
)

// BenchmarkLoad is the soak test of issue 9: 1,000 viewers of one community while
// 10,000 posts a second arrive (100 LIVE messages of 100 posts a second) for 60 s
// (CHATNIGHT_LOAD_SECONDS overrides), all on loopback, in this process. It reports
// gaps (a viewer receiving a sequence other than the next one), viewers dropped as too
// slow, goroutines left over once the viewers are gone, and the heap after GC at the start and the end of
// the run. Run it with `make load`.
func BenchmarkLoad(b *testing.B) {
	const (
		viewers  = 1000
		perMsg   = 100
		msgsPerS = 100
	)
	seconds := 60
	if s, err := strconv.Atoi(os.Getenv("CHATNIGHT_LOAD_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	th := startHub(b, Options{MaxConnsPerIP: -1, SendQueue: 256}, nil)
	goroutinesBefore := runtime.NumGoroutine() // the hub and NATS, no viewers yet

	conns := connectViewers(b, th, viewers)

	var gaps, closedEarly atomic.Int64
	lastGot := make([]atomic.Uint64, viewers)
	gone := make([]atomic.Bool, viewers) // disconnected by the server (dropped as slow)
	var readers sync.WaitGroup
	var stopping atomic.Bool
	for i, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var last uint64
			for {
				c.SetReadDeadline(time.Now().Add(90 * time.Second))
				_, data, err := c.ReadMessage()
				if err != nil {
					if !stopping.Load() {
						closedEarly.Add(1)
						gone[i].Store(true)
					}
					return
				}
				seq, ok := SeqOf(data)
				if !ok {
					continue
				}
				if last != 0 && seq != last+1 {
					gaps.Add(1)
				}
				last = seq
				lastGot[i].Store(seq)
			}
		}()
	}

	bodies := liveBodies(b, msgsPerS, perMsg, "load", 120)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	ctx := context.Background()
	stream, err := th.env.JS.Stream(ctx, bus.LiveStream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	seq := info.State.LastSeq
	var heapStart, heapEnd, heapMax uint64
	var posts uint64
	start := time.Now()
	for b.Loop() {
		tick := time.NewTicker(time.Second / msgsPerS)
		for s := 0; s < seconds; s++ {
			for k := range msgsPerS {
				<-tick.C
				msg := nats.NewMsg(bus.LiveSubject(testCommunity))
				msg.Data = bodies[k]
				if _, err := th.env.JS.PublishMsgAsync(msg); err != nil {
					b.Fatal(err)
				}
				seq++
				posts += perMsg
			}
			if s == 4 {
				heapStart = heap()
			}
			if s%10 == 9 {
				heapMax = max(heapMax, heap())
			}
		}
		tick.Stop()
	}
	elapsed := time.Since(start)
	waitFor(b, "every connected viewer to catch up", 120*time.Second, func() bool {
		for i := range lastGot {
			if lastGot[i].Load() < seq && !gone[i].Load() {
				return false
			}
		}
		return true
	})
	heapEnd = heap()
	b.StopTimer()
	behind := 0 // still connected but missing messages
	for i := range lastGot {
		if lastGot[i].Load() < seq && !gone[i].Load() {
			behind++
		}
	}
	stopping.Store(true)
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	// Every viewer's goroutines (pumps, handlers) must end; NATS server internals that
	// started with the stream's first messages are not the hub's.
	viewerGoroutines := func() int {
		buf := make([]byte, 64<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "hub.(*client)")
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && viewerGoroutines() > 0; {
		time.Sleep(100 * time.Millisecond)
	}
	leaked := viewerGoroutines()
	// Goroutines of closed connections take a moment to return; sampled at once, the
	// count still holds a thousand of them on their way out.
	goroutinesAfter := runtime.NumGoroutine()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && goroutinesAfter > goroutinesBefore+50; {
		time.Sleep(100 * time.Millisecond)
		goroutinesAfter = runtime.NumGoroutine()
	}
	b.ReportMetric(float64(posts)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(gaps.Load()), "gaps")
	b.ReportMetric(value(th.hub.metrics.dropped.WithLabelValues(DropSlow)), "dropped")
	b.ReportMetric(float64(behind), "viewers-behind")
	b.ReportMetric(float64(heapStart)/(1<<20), "heap-start-MiB")
	b.ReportMetric(float64(heapMax)/(1<<20), "heap-max-MiB")
	b.ReportMetric(float64(heapEnd)/(1<<20), "heap-end-MiB")
	b.ReportMetric(float64(leaked), "viewer-goroutines-left")
	b.ReportMetric(float64(goroutinesBefore), "goroutines-before")
	b.ReportMetric(float64(goroutinesAfter), "goroutines-after")
	b.Logf("%d viewers, %.0f posts/s for %v: %d gaps, %d dropped as slow (closed 1013, they resume with since=), %d behind; heap %.0f MiB at 5 s, max %.0f MiB, %.0f MiB at the end; %d viewer goroutines left",
		viewers, float64(posts)/elapsed.Seconds(), elapsed.Round(time.Second), gaps.Load(), closedEarly.Load(), behind,
		float64(heapStart)/(1<<20), float64(heapMax)/(1<<20), float64(heapEnd)/(1<<20), leaked)
	if gaps.Load() > 0 || behind > 0 {
		b.Errorf("%d gaps, %d connected viewers behind", gaps.Load(), behind)
	}
	if leaked > 0 {
		b.Errorf("%d viewer goroutines still running after every viewer left", leaked)
	}
	if goroutinesAfter > goroutinesBefore+50 {
		b.Errorf("%d goroutines after the run, %d before: a leak", goroutinesAfter, goroutinesBefore)
	}
}
