package endpoint

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/chatnight/chatnight/pipeline/storage/chdb"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/persisttest"
)

// TestPersistence writes through the endpoint in one process, then reads in a new process that
// opens the same data directory: the rows must be there.
func TestPersistence(t *testing.T) { persisttest.Run(t) }

// runHelper is the child side of TestPersistence: an engine on dir, a server, a clickhouse-go
// client, and a clean shutdown.
func runHelper(mode, dir string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "helper %s: %s\n", mode, fmt.Sprintf(format, args...))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := chdb.Open(dir)
	if err != nil {
		return fail("%v", err)
	}
	defer conn.Close()
	opts := testOptions()
	srv, err := startServer(conn, opts)
	if err != nil {
		return fail("%v", err)
	}
	c, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{srv.Addr()}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: testUser, Password: testPassword},
	})
	if err != nil {
		return fail("%v", err)
	}
	const want = "3 6 [a b c]"
	switch mode {
	case "write":
		if err := c.Exec(ctx, "CREATE TABLE kept (n UInt64, s String) ENGINE = MergeTree ORDER BY n"); err != nil {
			return fail("create: %v", err)
		}
		b, err := c.PrepareBatch(ctx, "INSERT INTO kept")
		if err != nil {
			return fail("prepare: %v", err)
		}
		for i, s := range []string{"a", "b", "c"} {
			if err := b.Append(uint64(i+1), s); err != nil {
				return fail("append: %v", err)
			}
		}
		if err := b.Send(); err != nil {
			return fail("send: %v", err)
		}
	case "read":
	default:
		return fail("unknown mode")
	}
	var n, sum uint64
	var all []string
	if err := c.QueryRow(ctx, "SELECT count(), sum(n), groupArray(s) FROM (SELECT * FROM kept ORDER BY n)").Scan(&n, &sum, &all); err != nil {
		return fail("select: %v", err)
	}
	if got := fmt.Sprint(n, sum, all); got != want {
		return fail("got %q, want %q", got, want)
	}
	c.Close()
	if err := srv.Shutdown(ctx); err != nil {
		return fail("%v", err)
	}
	if err := conn.Close(); err != nil {
		return fail("%v", err)
	}
	fmt.Printf("helper %s ok\n", mode)
	return 0
}
