package hub

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/live"
)

// BenchmarkFanout connects 1,000 viewers to one community and publishes 1,000 posts a
// second to NATS the way processors do (one message per batch: 20 batches of 50 posts
// a second). It reports the delivery latency from NATS publish to a viewer's receive
// (p50, p99), the heap per viewer (server and client ends, both in this process) and
// drops. Each iteration is one second of traffic; loopback only.
func BenchmarkFanout(b *testing.B) {
	const (
		viewers   = 1000
		perSecond = 1000
		perBatch  = 50
		batches   = perSecond / perBatch
	)
	th := startHub(b, Options{MaxConnsPerIP: -1, SendQueue: 256}, nil)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	conns := connectViewers(b, th, viewers)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perViewer := float64(after.HeapInuse-before.HeapInuse) / viewers

	// Sequences are predictable: this is the stream's only publisher.
	var pubMu sync.Mutex
	published := map[uint64]time.Time{}
	latencies := make([][]time.Duration, viewers)
	lastGot := make([]atomic.Uint64, viewers)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				now := time.Now()
				seq, ok := SeqOf(data)
				if !ok {
					continue
				}
				pubMu.Lock()
				at := published[seq]
				pubMu.Unlock()
				latencies[i] = append(latencies[i], now.Sub(at))
				lastGot[i].Store(seq)
			}
		}()
	}

	body := liveBodies(b, batches, perBatch, "bench", 160)
	seq := th.lastSeq(b)
	received := func(want uint64) bool {
		for i := range lastGot {
			if lastGot[i].Load() < want {
				return false
			}
		}
		return true
	}
	var total uint64
	for b.Loop() {
		tick := time.NewTicker(time.Second / batches)
		for k := range batches {
			<-tick.C
			seq++
			pubMu.Lock()
			published[seq] = time.Now()
			pubMu.Unlock()
			msg := nats.NewMsg(bus.LiveSubject(testCommunity))
			msg.Data = body[k]
			if _, err := th.env.JS.PublishMsgAsync(msg); err != nil {
				b.Fatal(err)
			}
			total++
		}
		tick.Stop()
		waitFor(b, "every viewer to receive every message", 60*time.Second, func() bool {
			return received(seq) || value(th.hub.metrics.dropped.WithLabelValues(DropSlow)) > 0
		})
	}
	b.StopTimer()
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("no messages received")
	}
	pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(perViewer, "heap-B/viewer")
	b.ReportMetric(float64(len(all))/float64(total), "deliveries/msg")
	b.ReportMetric(value(th.hub.metrics.dropped.WithLabelValues(DropSlow)), "dropped")
}

// connectViewers opens n websockets to th's community, 16 at a time, each read past
// its hello and (empty) backfill, and waits until the hub counts them all.
func connectViewers(b *testing.B, th *testHub, n int) []*websocket.Conn {
	b.Helper()
	already := value(th.hub.metrics.clients)
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	var dialErr atomic.Value
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
			c, _, err := d.Dial(th.url+"?community="+testCommunity, nil)
			if err != nil {
				dialErr.Store(err)
				return
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					dialErr.Store(err)
					return
				}
				if string(data[:min(len(data), 20)]) == `{"type":"backfill","` {
					break
				}
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		b.Fatalf("connect viewers: %v", err)
	}
	waitFor(b, "every viewer to join its room", 30*time.Second, func() bool { return value(th.hub.metrics.clients) == already+float64(n) })
	return conns
}

// liveBodies encodes n LIVE-stream messages of perMsg post events each, with ids
// "sim:<name>-<message>-<post>" and textLen-byte texts.
func liveBodies(b *testing.B, n, perMsg int, name string, textLen int) [][]byte {
	b.Helper()
	bodies := make([][]byte, n)
	for k := range bodies {
		events := make([]live.Event, perMsg)
		for j := range events {
			events[j] = postEvent(fmt.Sprintf("sim:%s-%d-%d", name, k, j), textLen)
		}
		data, err := live.Encode(events)
		if err != nil {
			b.Fatal(err)
		}
		bodies[k] = data
	}
	return bodies
}
