package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// readyState is the status of a child's /readyz.
func readyState(addr string) int {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// streamPosts decodes every post on the POSTS stream under subject filter.
func streamPosts(t *testing.T, js jetstream.JetStream, filter string) []*post.Post {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, bus.PostsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*post.Post
	for left := info.NumPending; left > 0; {
		batch, err := c.Fetch(int(min(left, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			ps, bad := bus.DecodePosts(m.Headers(), m.Data())
			if len(bad) > 0 {
				t.Fatalf("bad post on the stream: %v", bad[0].Err)
			}
			out = append(out, ps...)
			got++
		}
		if got == 0 {
			t.Fatalf("fetch returned nothing with %d left: %v", left, batch.Error())
		}
		left -= uint64(got)
	}
	return out
}

// TestEmbeddedNATSRestart: the node holding NATS and ClickHouse is killed and started
// again on the same data dir. Streams, consumers and cursors survive; a separate
// `process` child and a separate `serve` child reconnect by themselves; the viewer
// connected to that `serve` keeps receiving live posts; every count is exact.
func TestEmbeddedNATSRestart(t *testing.T) {
	store := newNode(t, t.TempDir())
	store.start("serve")
	p := startChild(t, processorArgs(store, store.chDSN())...)
	webAddr := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
	w := startChild(t, "serve", "--nats-url", store.natsURL(), "--clickhouse-dsn", store.chDSN(), "--http-addr", webAddr)

	ctx := context.Background()
	start1, night1 := faultNight(t, 21, 3000)
	chatnight(t, "simulate", "--community", "hitsm", "--seed", "21", "--posts", "3000", "--start", start1, "--nats-url", store.natsURL())
	drained(t, store.natsURL(), time.Minute)

	nc, js, err := bus.Connect(ctx, store.natsURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, bus.CursorBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "test.cursor", []byte("1780400000000000009")); err != nil {
		t.Fatal(err)
	}
	before, err := js.Stream(ctx, bus.PostsStream)
	if err != nil {
		t.Fatal(err)
	}
	msgsBefore := before.CachedInfo().State.Msgs
	nc.Close()

	// A viewer on the separate web tier, connected before the restart.
	hdr := http.Header{"Origin": {"http://" + webAddr}}
	viewer, _, err := websocket.DefaultDialer.Dial("ws://"+webAddr+"/ws?community=hcldr", hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	seen := make(chan string, 100000)
	viewerDone := make(chan error, 1)
	go func() {
		for {
			_, data, err := viewer.ReadMessage()
			if err != nil {
				viewerDone <- err
				return
			}
			var f struct {
				Type   string `json:"type"`
				Events []struct {
					Post *struct {
						ID string `json:"id"`
					} `json:"post"`
				} `json:"events"`
			}
			if json.Unmarshal(data, &f) == nil && f.Type == "live" {
				for _, e := range f.Events {
					if e.Post != nil {
						seen <- e.Post.ID
					}
				}
			}
		}
	}()

	store.kill()
	waitFor(t, 30*time.Second, "the processor to notice NATS is gone", func() error {
		if s := readyState(p.httpAddr); s != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d", s)
		}
		return nil
	})
	store.start("serve") // same data dir, same ports
	for _, c := range []*node{p, w} {
		waitFor(t, 60*time.Second, "the children to reconnect", func() error {
			if s := readyState(c.httpAddr); s != http.StatusOK {
				return fmt.Errorf("%s readyz %d", c.httpAddr, s)
			}
			return nil
		})
	}

	nc, js, err = bus.Connect(ctx, store.natsURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	after, err := js.Stream(ctx, bus.PostsStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.CachedInfo().State.Msgs; got != msgsBefore {
		t.Errorf("POSTS holds %d messages after the restart, %d before", got, msgsBefore)
	}
	kv, err = js.KeyValue(ctx, bus.CursorBucket)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "test.cursor"); err != nil || string(e.Value()) != "1780400000000000009" {
		t.Errorf("cursor after the restart: %v", err)
	}

	// New posts after the restart are processed by the reconnected child and reach
	// the viewer of the reconnected web tier.
	cm, _ := community.Defaults().Lookup("hcldr")
	at := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	night2 := simulator.Generate(simulator.Night{Community: cm, Seed: 22, Posts: 500, Start: at})
	chatnight(t, "simulate", "--community", "hcldr", "--seed", "22", "--posts", "500", "--start", at.Format(time.RFC3339), "--nats-url", store.natsURL())
	drained(t, store.natsURL(), time.Minute)
	conn := store.ch(ctx)
	checkExact(t, conn, "hitsm", expected(t, night1))
	checkExact(t, conn, "hcldr", expected(t, night2))

	want := map[string]bool{}
	for _, p := range night2 {
		want[p.ID] = true
	}
	deadline := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case id := <-seen:
			delete(want, id)
		case err := <-viewerDone:
			t.Fatalf("the viewer was disconnected (%v) with %d posts not seen", err, len(want))
		case <-deadline:
			t.Fatalf("the viewer saw %d of %d posts after the restart", len(night2)-len(want), len(night2))
		}
	}
}

// TestIngestorKilledDuringPaging: a `chatnight ingest` child reading X recent-search
// pages from a fake API is killed with SIGKILL while it waits for the last page, then
// started again: the posts stream holds every tweet once, with no gap.
func TestIngestorKilledDuringPaging(t *testing.T) {
	store := newNode(t, t.TempDir())
	store.start("serve")

	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	tweet := func(i int) map[string]any {
		return map[string]any{
			"id": fmt.Sprint(1780400000000000000 + i), "author_id": fmt.Sprint(500 + i%7), "text": fmt.Sprintf("A%d #hcldr", i),
			"created_at": base.Add(time.Duration(i) * time.Second).Format(time.RFC3339), "conversation_id": fmt.Sprint(1780400000000000000 + i),
			"entities": map[string]any{"hashtags": []map[string]any{{"tag": "hcldr"}}},
		}
	}
	pageOf := func(from, to int, next string) []byte { // newest first, ids from..to descending
		var data []map[string]any
		users := map[string]bool{}
		for i := to; i >= from; i-- {
			tw := tweet(i)
			data = append(data, tw)
			users[tw["author_id"].(string)] = true
		}
		var us []map[string]any
		for u := range users {
			us = append(us, map[string]any{"id": u, "username": "user" + u, "name": "User " + u})
		}
		meta := map[string]any{"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[len(data)-1]["id"]}
		if next != "" {
			meta["next_token"] = next
		}
		b, _ := json.Marshal(map[string]any{"data": data, "includes": map[string]any{"users": us}, "meta": meta})
		return b
	}
	const token = "ingest-kill-token"
	newest := fmt.Sprint(1780400000000000000 + 30)
	var (
		mu        sync.Mutex
		block     = true
		sinceSeen = false
	)
	page3 := make(chan struct{}, 10)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		q := r.URL.Query()
		mu.Lock()
		blocked := block
		if q.Get("since_id") == newest {
			sinceSeen = true
		}
		mu.Unlock()
		switch {
		case q.Get("since_id") != "":
			w.Write([]byte(`{"meta":{"result_count":0}}`))
		case q.Get("next_token") == "":
			w.Write(pageOf(21, 30, "p2"))
		case q.Get("next_token") == "p2":
			w.Write(pageOf(10, 21, "p3")) // 21 repeats across pages
		case q.Get("next_token") == "p3":
			if blocked {
				page3 <- struct{}{}
				<-r.Context().Done() // the ingestor dies while it waits
				return
			}
			w.Write(pageOf(1, 9, ""))
		default:
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
	}))
	defer fake.Close()
	config := filepath.Join(t.TempDir(), "communities.yaml")
	os.WriteFile(config, fmt.Appendf(nil, `
communities:
  - id: hcldr
    hashtags: [hcldr]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
    sources: [x]
sources:
  x: {base_url: %q, bearer_token_env: TEST_X_TOKEN, poll_interval: 100ms}
`, fake.URL), 0o644)
	t.Setenv("TEST_X_TOKEN", token)
	ingestArgs := func() []string {
		return []string{"ingest", "--config", config, "--nats-url", store.natsURL(), "--http-addr", fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))}
	}

	first := startChild(t, ingestArgs()...)
	select {
	case <-page3:
	case <-time.After(30 * time.Second):
		t.Fatalf("page 3 was never asked for:\n%s", first.out.String())
	}
	ctx := context.Background()
	nc, js, err := bus.Connect(ctx, store.natsURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Posts are published asynchronously while the next page is fetched: let pages 1 and
	// 2 land (the ingestor is blocked on page 3) before it is killed.
	waitFor(t, 30*time.Second, "pages 1 and 2 stored", func() error {
		if got := len(streamPosts(t, js, "posts.>")); got < 21 {
			return fmt.Errorf("%d of 21 posts stored", got)
		}
		return nil
	})
	first.kill()
	kv, err := js.KeyValue(ctx, bus.CursorBucket)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, xapi.CursorKey("hcldr")); err == nil {
		t.Fatalf("cursor saved as %q before the poll finished: page 3 would be lost", e.Value())
	}
	if got := len(streamPosts(t, js, "posts.>")); got != 21 {
		t.Errorf("%d posts stored before the kill, want pages 1 and 2 (21)", got)
	}

	mu.Lock()
	block = false
	mu.Unlock()
	second := startChild(t, ingestArgs()...)
	waitFor(t, 30*time.Second, "a poll from the saved cursor", func() error {
		mu.Lock()
		defer mu.Unlock()
		if !sinceSeen {
			return fmt.Errorf("no since_id=%s poll yet", newest)
		}
		return nil
	})
	second.stop()

	var ids []string
	for _, p := range streamPosts(t, js, "posts.>") {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	var want []string
	for i := 1; i <= 30; i++ {
		want = append(want, fmt.Sprintf("x:%d", 1780400000000000000+i))
	}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("stream holds %d posts %v, want each of the 30 tweets once", len(ids), ids)
	}
	if e, err := kv.Get(ctx, xapi.CursorKey("hcldr")); err != nil || string(e.Value()) != newest {
		t.Errorf("cursor after the second run: %v", err)
	}
}
