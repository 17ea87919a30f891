package hub

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/web/readmodel"
)

// bigSnapshot builds what the store returns for a 20,000-post session: a fresh copy per call.
func bigSnapshot(n, textLen int) readmodel.Snapshot {
	posts := make([]readmodel.Post, n)
	for i := range posts {
		posts[i] = readmodel.Post{Post: live.Post{ID: fmt.Sprintf("sim:%d", i), Source: "sim", Kind: "original",
			AuthorID: "sim:ana", AuthorHandle: "ana", CreatedAt: time.Now().UTC(), Text: strings.Repeat("x", textLen), SessionID: "s1"}}
	}
	return readmodel.Snapshot{Posts: posts}
}

// TestBackfillMemoryIsBounded: 64 viewers (the per-address cap lifted) open the same 20,000-post session
// and never read. They share one snapshot: the store is asked once, and the heap stays far
// below one snapshot per viewer; the viewers that do read get every post.
func TestBackfillMemoryIsBounded(t *testing.T) {
	const posts, textLen = 20_000, 1000 // about 20 MB of text per snapshot
	var calls atomic.Int64
	bf := snapshotFunc(func(ctx context.Context, community, session string) (readmodel.Snapshot, error) {
		calls.Add(1)
		time.Sleep(200 * time.Millisecond) // a query takes a while: viewers arrive meanwhile
		return bigSnapshot(posts, textLen), nil
	})
	th := startHub(t, Options{MaxConnsPerIP: -1, WriteWait: 5 * time.Second}, bf)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
			conn, _, err := d.Dial(th.url+"?community="+testCommunity+"&session=s1", nil)
			if err != nil {
				t.Errorf("dial %d: %v", i, err)
				return
			}
			t.Cleanup(func() { conn.Close() })
			// Never read: the server's writes block once the socket buffers are full.
		}()
	}
	wg.Wait()
	time.Sleep(time.Second)
	close(stop)
	sampler.Wait()
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("64 non-reading viewers: %d store queries, heap grew by %d MiB at most", calls.Load(), grew>>20)
	if n := calls.Load(); n > 2 {
		t.Errorf("the store was asked %d times for one session", n)
	}
	if grew > 400<<20 { // one snapshot per viewer would be over 1 GiB
		t.Errorf("heap grew by %d MiB", grew>>20)
	}

	// A reading viewer still gets the whole session.
	conn := th.mustDial(t, "community="+testCommunity+"&session=s1")
	conn.SetReadLimit(-1)
	_, backfill := readOpening(t, conn)
	got := 0
	for _, m := range backfill {
		got += strings.Count(string(m.Posts), `"id":`)
	}
	if got != posts {
		t.Errorf("a reading viewer got %d posts, want %d", got, posts)
	}
}

// TestDistinctBackfillsAreCapped: at most MaxBackfills distinct snapshots are held at once;
// a viewer that needs another waits for a slot.
func TestDistinctBackfillsAreCapped(t *testing.T) {
	var inFlight, most atomic.Int64
	gate := make(chan struct{})
	bf := snapshotFunc(func(ctx context.Context, community, session string) (readmodel.Snapshot, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return readmodel.Snapshot{}, ctx.Err()
		}
		return bigSnapshot(10, 10), nil
	})
	th := startHub(t, Options{MaxConnsPerIP: -1, MaxBackfills: 2}, bf)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := th.mustDial(t, fmt.Sprintf("community=%s&session=s%d", testCommunity, i))
			readOpening(t, conn)
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if n := inFlight.Load(); n != 2 {
		t.Errorf("%d snapshots being read at once, want the cap of 2", n)
	}
	close(gate)
	wg.Wait()
	if m := most.Load(); m > 2 {
		t.Errorf("up to %d snapshots at once, want at most 2", m)
	}
}
