package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/bus/bustest"
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
			"--http-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--batch-posts", "1000", "--batch-wait", "50ms"}
	}
	var procs []*node
	for range 3 {
		procs = append(procs, startChild(t, procArgs()...))
	}
	conn := store.ch(context.Background())
	var atKill uint64
	waitFor(t, 60*time.Second, "the first batches to be written", func() error {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM chatnight.posts WHERE community = 'hitsm'").Scan(&atKill); err != nil {
			return err
		}
		if atKill == 0 {
			return fmt.Errorf("nothing written yet")
		}
		return nil
	})
	procs[0].kill()
	cluster.Stop(0)
	if atKill >= uint64(len(night)) {
		t.Fatalf("the processors finished (%d rows) before the faults: give them more posts", atKill)
	}
	t.Logf("killed a processor and NATS node 1 with %d of %d posts written", atKill, len(night))

	drained(t, strings.Join(cluster.URLs[1:], ","), 2*time.Minute)
	checkExact(t, conn, "hitsm", expected(t, night))
}
