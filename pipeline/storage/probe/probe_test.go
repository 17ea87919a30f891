package probe

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/pipeline/threads"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(0, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestProbe(t *testing.T) {
	env := chdbtest.Start(t)
	ctx := context.Background()
	cfg := community.Defaults()
	cm, _ := cfg.Lookup("hcldr")
	mem := threads.NewMemory()
	dv := derive.New(cfg, mem, time.Now)
	var batches []*storage.Batch
	for n := 0; n < 6; n++ {
		c := *cm
		c.ID = "probe"
		night := simulator.Generate(simulator.Night{Community: &c, Seed: uint64(n + 1), Posts: 20000, Start: time.Date(2025, 1, 1+n, 1, 0, 0, 0, time.UTC)})
		for i := 0; i < len(night); i += 10000 {
			b, err := dv.Derive(ctx, night[i:min(i+10000, len(night))])
			if err != nil {
				t.Fatal(err)
			}
			_ = mem.Write(ctx, b)
			batches = append(batches, b)
		}
	}
	w := storage.NewWriter(env.Conn)
	steps := []struct{ name, sql string }{
		{"all", ""},
		{"-participants_mv", "DROP VIEW chatnight.participants_mv"},
		{"-minute_activity_mv", "DROP VIEW chatnight.minute_activity_mv"},
		{"-post_ids_mv", "DROP VIEW chatnight.post_ids_mv"},
		{"-post_replies_mv", "DROP VIEW chatnight.post_replies_mv"},
		{"-bloom indexes", "ALTER TABLE chatnight.posts DROP INDEX idx_id, DROP INDEX idx_reply_to, DROP INDEX idx_session, DROP INDEX idx_author"},
		{"-raw zstd", "ALTER TABLE chatnight.posts MODIFY COLUMN raw String CODEC(LZ4)"},
	}
	for _, s := range steps {
		if s.sql != "" {
			if err := env.Conn.Exec(ctx, s.sql); err != nil {
				t.Fatal(err)
			}
		}
		_ = env.Conn.Exec(ctx, "SYSTEM STOP MERGES")
		var posts int
		c0, w0 := cpu(), time.Now()
		for _, b := range batches {
			if err := w.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
			posts += len(b.Posts)
		}
		c, wall := cpu()-c0, time.Since(w0)
		t.Logf("%-22s cpu %6.1f µs/post  wall %6.1f µs/post (%d posts)", s.name, float64(c.Microseconds())/float64(posts), float64(wall.Microseconds())/float64(posts), posts)
		_ = env.Conn.Exec(ctx, "SYSTEM START MERGES")
		_ = env.Conn.Exec(ctx, "OPTIMIZE TABLE chatnight.posts FINAL")
	}
}

func TestProbeLookup(t *testing.T) {
	env := chdbtest.Start(t)
	ctx := context.Background()
	cfg := community.Defaults()
	cm, _ := cfg.Lookup("hcldr")
	c := *cm
	c.ID = "probel"
	dv := derive.New(cfg, threads.NewClickHouse(env.Conn), time.Now)
	w := storage.NewWriter(env.Conn)
	for n := 0; n < 6; n++ {
		night := simulator.Generate(simulator.Night{Community: &c, Seed: uint64(n + 1), Posts: 20000, Start: time.Date(2025, 1, 1+n, 1, 0, 0, 0, time.UTC)})
		var dc, wc time.Duration
		for i := 0; i < len(night); i += 10000 {
			c0 := cpu()
			b, err := dv.Derive(ctx, night[i:min(i+10000, len(night))])
			if err != nil {
				t.Fatal(err)
			}
			c1 := cpu()
			if err := w.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
			dc += c1 - c0
			wc += cpu() - c1
		}
		t.Logf("night %d: derive+lookups cpu %6.1f µs/post, write %6.1f µs/post", n, float64(dc.Microseconds())/20000, float64(wc.Microseconds())/20000)
	}
}
