package endpoint

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// BenchmarkInsert200k measures clickhouse-go's Append plus Send of 200,000 rows of an event table
// through the endpoint into the embedded engine.
func BenchmarkInsert200k(b *testing.B) {
	c := rwClient(b)
	createEvents(b, c, "events_bench")
	ctx := context.Background()
	for b.Loop() {
		if err := sendEvents(ctx, c, "events_bench", bigRows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bigRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSmallSelect measures one small query through the endpoint as the read-write user:
// what each request pays for authentication, the guard's parse and the answer.
func BenchmarkSmallSelect(b *testing.B) {
	c := client(b, env.srv.Addr(), testUser, testPassword, clickhouse.CompressionNone)
	ctx := context.Background()
	var n uint64
	for b.Loop() {
		if err := c.QueryRow(ctx, "SELECT count() FROM numbers(100) WHERE number % 7 = {m:UInt64}", clickhouse.Named("m", 3)).Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}
