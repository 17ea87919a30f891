// Package derivetest stores posts as the processor does, for the tests of what reads
// the store (the read model, the API, the viewer): derived batch after batch with one
// in-memory thread index, written, and their detected sessions placed.
package derivetest

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// Store derives each batch in turn under cfg and writes it to conn. A later batch finds
// the parents an earlier one stored, as it would in the processor.
func Store(t testing.TB, conn driver.Conn, cfg *community.Config, batches ...[]*post.Post) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mem := threads.NewMemory()
	d := derive.New(cfg, mem, time.Now)
	w := storage.NewWriter(conn, nil)
	for i, posts := range batches {
		b, err := d.Derive(ctx, posts)
		if err != nil {
			t.Fatalf("derive batch %d: %v", i, err)
		}
		if err := mem.Write(ctx, b); err != nil {
			t.Fatalf("remember batch %d: %v", i, err)
		}
		if err := bursts.WriteAndPlace(ctx, w, b); err != nil {
			t.Fatalf("write batch %d: %v", i, err)
		}
	}
}
