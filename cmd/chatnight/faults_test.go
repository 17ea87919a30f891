package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// faultNight is a long #HITsm night, so a processor can be stopped in the middle of it.
func faultNight(t *testing.T, seed uint64, posts int) (start string, night []*post.Post) {
	t.Helper()
	cm, _ := community.Defaults().Lookup("hitsm")
	at := time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC) // Friday 12:00 in New York
	return at.Format(time.RFC3339), simulator.Generate(simulator.Night{Community: cm, Seed: seed, Posts: posts, Start: at})
}

// expected derives the whole night in one batch in memory: what the tables must hold
// however the posts were delivered.
func expected(t *testing.T, posts []*post.Post) *storage.Batch {
	t.Helper()
	d := derive.New(community.Defaults(), threads.NewMemory(), time.Now)
	b, err := d.Derive(context.Background(), posts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkExact compares the tables' answers for a community with the expected rows.
func checkExact(t *testing.T, conn driver.Conn, cm string, want *storage.Batch) {
	t.Helper()
	ctx := context.Background()
	count := func(query string) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, query, cm).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	authors := map[string]bool{}
	for _, p := range want.Posts {
		authors[p.AuthorID] = true
	}
	kinds := map[string]uint64{}
	for _, m := range want.QAMarks {
		kinds[m.Kind]++
	}
	edges := map[string]uint64{}
	for _, e := range want.Edges {
		edges[e.Kind]++
	}
	checks := []struct {
		what  string
		query string
		want  uint64
	}{
		{"posts", "SELECT count() FROM chatnight.posts FINAL WHERE community = ?", uint64(len(want.Posts))},
		{"per-minute posts", "SELECT toUInt64(sum(posts)) FROM chatnight.minute_activity WHERE community = ?", uint64(len(want.Posts))},
		{"participants", "SELECT count() FROM chatnight.participants WHERE community = ?", uint64(len(authors))},
		{"participant posts", "SELECT toUInt64(sum(posts)) FROM chatnight.participants WHERE community = ?", uint64(len(want.Posts))},
		{"sessions", "SELECT count() FROM chatnight.sessions FINAL WHERE community = ?", uint64(len(want.Sessions))},
		{"questions", "SELECT count() FROM chatnight.qa WHERE community = ? AND kind = 'question'", kinds["question"]},
		{"answers", "SELECT count() FROM chatnight.qa WHERE community = ? AND kind = 'answer'", kinds["answer"]},
		{"mention weight", "SELECT toUInt64(sum(weight)) FROM chatnight.edges WHERE community = ? AND kind = 'mention'", edges["mention"]},
		{"reply weight", "SELECT toUInt64(sum(weight)) FROM chatnight.edges WHERE community = ? AND kind = 'reply'", edges["reply"]},
		{"repost weight", "SELECT toUInt64(sum(weight)) FROM chatnight.edges WHERE community = ? AND kind = 'repost'", edges["repost"]},
	}
	for _, c := range checks {
		if got := count(c.query); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
}

// drained waits until the processors have acked everything in the posts stream.
func drained(t *testing.T, natsURL string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	nc, js, err := bus.Connect(ctx, natsURL, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, timeout, "the processor to ack every message", func() error {
		c, err := js.Consumer(ctx, bus.PostsStream, bus.ProcessorConsumer)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("%d pending, %d unacked", info.NumPending, info.NumAckPending)
		}
		return nil
	})
}

// processorArgs runs a processor against the store node n serves. A DSN without credentials
// gets them from n's data dir, as a user's would.
func processorArgs(n *node, dsn string) []string {
	return []string{"process", "--nats-url", n.natsURL(), "--clickhouse-dsn", dsn, "--data-dir", n.dataDir,
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(n.t)), "--batch-posts", "2000", "--batch-wait", "50ms"}
}

// startChild runs a chatnight subcommand that is not `run` and waits for its ops
// endpoint to be ready.
func startChild(t *testing.T, args ...string) *node {
	t.Helper()
	c := &node{t: t}
	for i, a := range args {
		if a == "--http-addr" && i+1 < len(args) {
			c.httpAddr = args[i+1]
		}
	}
	if c.httpAddr == "" {
		t.Fatal("startChild needs --http-addr to know when the child is ready")
	}
	c.startArgs(args)
	return c
}

// TestProcessorKilledMidBatch: a processor killed with SIGKILL in the middle of a
// backlog, then restarted, leaves every count exactly as if it had never died.
func TestProcessorKilledMidBatch(t *testing.T) {
	store := newNode(t, t.TempDir())
	store.start("serve")
	start, night := faultNight(t, 11, 40000)
	chatnight(t, "simulate", "--community", "hitsm", "--seed", "11", "--posts", "40000", "--start", start, "--nats-url", store.natsURL())

	conn := store.ch(context.Background())
	p := startChild(t, processorArgs(store, store.chDSN())...)
	atKill := firstWrites(t, conn, "hitsm")
	p.kill()
	if atKill >= uint64(len(night)) {
		t.Fatalf("the processor finished (%d rows) before it could be killed: give it more posts", atKill)
	}
	t.Logf("killed the processor with %d of %d posts written", atKill, len(night))

	startChild(t, processorArgs(store, store.chDSN())...)
	drained(t, store.natsURL(), 2*time.Minute)
	checkExact(t, conn, "hitsm", expected(t, night))
}

// TestClickHouseOutage: while ClickHouse is unreachable the processor retries and
// JetStream holds the backlog; when it returns, everything is written exactly once.
func TestClickHouseOutage(t *testing.T) {
	store := newNode(t, t.TempDir())
	store.start("serve")
	proxy := newProxy(t, store.chAddr)
	p := startChild(t, processorArgs(store, "http://"+proxy.addr+"/default")...)

	proxy.down()
	start, night := faultNight(t, 12, 3000)
	chatnight(t, "simulate", "--community", "hitsm", "--seed", "12", "--posts", "3000", "--start", start, "--nats-url", store.natsURL())
	waitFor(t, 30*time.Second, "the processor to notice the outage", func() error {
		if v := metricAt(t, p.httpAddr, "chatnight_processor_write_errors_total"); v < 2 {
			return fmt.Errorf("%v write errors", v)
		}
		return nil
	})
	proxy.up()
	drained(t, store.natsURL(), time.Minute)
	checkExact(t, store.ch(context.Background()), "hitsm", expected(t, night))
}

// proxy forwards TCP connections to a backend and can be cut off and restored, like a
// server that goes away and comes back on the same address.
type proxy struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
}

func newProxy(t *testing.T, backend string) *proxy {
	p := &proxy{t: t, addr: fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)), backend: backend, conns: map[net.Conn]bool{}}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[b] = true, true
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// firstWrites waits until processors wrote posts of community and returns how many
// rows there are, the moment to strike in the middle of a backlog.
func firstWrites(t *testing.T, conn driver.Conn, community string) uint64 {
	t.Helper()
	var rows uint64
	waitFor(t, 60*time.Second, "the first batches to be written", func() error {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM chatnight.posts WHERE community = ?", community).Scan(&rows); err != nil {
			return err
		}
		if rows == 0 {
			return fmt.Errorf("nothing written yet")
		}
		return nil
	})
	return rows
}
