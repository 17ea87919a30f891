package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bus/bustest"

	"github.com/gorilla/websocket"
)

// TestScaleOutOnNATSCluster: three processor processes share the durable consumer of R3
// streams on a three-node NATS cluster. One processor is killed and one NATS node shut
// down mid-stream; the others carry on, and every count ends exact.
func TestScaleOutOnNATSCluster(t *testing.T) {
	cluster := bustest.StartCluster(t, 3)
	store := newNode(t, t.TempDir())
	store.start("serve") // the ClickHouse the processors write (its own NATS is unused)

	start, night := faultNight(t, 23, 30000)
	chatnight(t, "simulate", "--community", "hitsm", "--seed", "23", "--posts", "30000", "--start", start,
		"--nats-url", cluster.URL(), "--nats-replicas", "3")

	procArgs := func() []string {
		return []string{"process", "--nats-url", cluster.URL(), "--nats-replicas", "3", "--clickhouse-dsn", store.chDSN(),
			"--http-addr", fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)), "--batch-posts", "1000", "--batch-wait", "50ms"}
	}
	var procs []*node
	for range 3 {
		procs = append(procs, startChild(t, procArgs()...))
	}
	conn := store.ch(context.Background())
	atKill := firstWrites(t, conn, "hitsm")
	procs[0].kill()
	cluster.Stop(0)
	if atKill >= uint64(len(night)) {
		t.Fatalf("the processors finished (%d rows) before the faults: give them more posts", atKill)
	}
	t.Logf("killed a processor and NATS node 1 with %d of %d posts written", atKill, len(night))

	drained(t, strings.Join(cluster.URLs[1:], ","), 2*time.Minute)
	checkExact(t, conn, "hitsm", expected(t, night))
}

// TestSeveralServeProcesses: web servers behind the same NATS each deliver every live
// event to their own viewers (each reads the LIVE stream with a consumer of its own).
func TestSeveralServeProcesses(t *testing.T) {
	n := newNode(t, t.TempDir())
	n.start("run", "--batch-wait", "50ms")
	viewers := []*websocket.Conn{dialViewer(t, n, "community=hcldr")}
	for i := 0; i < 2; i++ {
		s := startChild(t, "serve", "--nats-url", n.natsURL(), "--clickhouse-dsn", n.chDSN(),
			"--http-addr", fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)))
		viewers = append(viewers, dialViewer(t, s, "community=hcldr"))
	}
	const posts = 300
	chatnight(t, "simulate", "--community", "hcldr", "--seed", "77", "--posts", fmt.Sprint(posts),
		"--start", e2eStart, "--nats-url", n.natsURL())
	for i, ws := range viewers {
		ids, _ := readPosts(t, ws, posts, 60*time.Second)
		for id, times := range ids {
			if times != 1 {
				t.Errorf("server %d showed %s %d times", i, id, times)
			}
		}
	}
}
