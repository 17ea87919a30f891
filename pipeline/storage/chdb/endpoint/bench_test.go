package endpoint

import (
	"context"
	"testing"
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
