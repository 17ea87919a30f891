package hub

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/live"
)

// BenchmarkLoad is the soak test of issue 9: 1,000 viewers of one community while
// 10,000 posts a second arrive (100 LIVE messages of 100 posts a second) for 60 s
// (CHATNIGHT_LOAD_SECONDS overrides), all on loopback, in this process. It reports
// gaps (a viewer receiving a sequence other than the next one), viewers dropped as too
// slow, goroutines left over once the viewers are gone (goleak), and the heap after GC
// at the start and the end of the run. Run it with `make load`.
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
	// One viewer and one message first, so that the room's consumer and what NATS starts
	// for it run before the snapshot: every goroutine that starts after it is a viewer's,
	// and must be gone once the viewers are.
	conns := connectViewers(b, th, 1)
	warm, err := live.Encode([]live.Event{postEvent("sim:warm-up", 16)})
	if err != nil {
		b.Fatal(err)
	}
	// Asynchronously, as below: the first async publish starts the reply handler.
	if _, err := th.env.JS.PublishAsync(bus.LiveSubject(testCommunity), warm); err != nil {
		b.Fatal(err)
	}
	<-th.env.JS.PublishAsyncComplete()
	beforeViewers := []goleak.Option{goleak.IgnoreCurrent()}
	// A room's ordered consumer is made anew when it misses heartbeats on a loaded
	// machine; those goroutines are the room's, which lives on, not a viewer's.
	for _, f := range []string{
		"github.com/nats-io/nats.go/jetstream.(*pullConsumer).Messages.func2",
		"github.com/nats-io/nats.go/jetstream.(*pullSubscription).pullMessages",
		"github.com/nats-io/nats-server/v2/server.(*consumer).loopAndGatherMsgs",
		"github.com/nats-io/nats-server/v2/server.(*consumer).processInboundNextMsgReqs",
		"github.com/nats-io/nats-server/v2/server.(*consumer).processInboundAcks",
	} {
		beforeViewers = append(beforeViewers, goleak.IgnoreTopFunction(f))
	}
	conns = append(conns, connectViewers(b, th, viewers-1)...)

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
	seq := th.lastSeq(b)
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
	// Every viewer's goroutines (pumps, handlers) must end. A thousand closed connections
	// take a moment to unwind: look again for up to 30 s.
	var leak error
	for end := time.Now().Add(30 * time.Second); ; {
		if leak = goleak.Find(beforeViewers...); leak == nil || time.Now().After(end) {
			break
		}
	}
	leaked := 0
	if leak != nil {
		leaked = strings.Count(leak.Error(), "Goroutine ")
	}
	b.ReportMetric(float64(posts)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(gaps.Load()), "gaps")
	b.ReportMetric(value(th.hub.metrics.dropped.WithLabelValues(DropSlow)), "dropped")
	b.ReportMetric(float64(behind), "viewers-behind")
	b.ReportMetric(float64(heapStart)/(1<<20), "heap-start-MiB")
	b.ReportMetric(float64(heapMax)/(1<<20), "heap-max-MiB")
	b.ReportMetric(float64(heapEnd)/(1<<20), "heap-end-MiB")
	b.ReportMetric(float64(leaked), "viewer-goroutines-left")
	b.Logf("%d viewers, %.0f posts/s for %v: %d gaps, %d dropped as slow (closed 1013, they resume with since=), %d behind; heap %.0f MiB at 5 s, max %.0f MiB, %.0f MiB at the end; %d viewer goroutines left",
		viewers, float64(posts)/elapsed.Seconds(), elapsed.Round(time.Second), gaps.Load(), closedEarly.Load(), behind,
		float64(heapStart)/(1<<20), float64(heapMax)/(1<<20), float64(heapEnd)/(1<<20), leaked)
	if gaps.Load() > 0 || behind > 0 {
		b.Errorf("%d gaps, %d connected viewers behind", gaps.Load(), behind)
	}
	if leak != nil {
		b.Errorf("goroutines still running after every viewer left: %v", leak)
	}
}
