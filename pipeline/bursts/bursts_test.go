package bursts_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/pipeline/threads"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// TestPlaceLongBurstsAndMerges: an off-schedule chat that never pauses for 60 hours,
// written in batches, is one detected session named after its first cell, however far
// its start lies from the batch being placed; a second chat after a silence is
// another; a late post bridging them merges the second into the first.
func TestPlaceLongBurstsAndMerges(t *testing.T) {
	const id = "burstlong"
	env := chdbtest.Start(t)
	ctx := context.Background()
	cfg, err := community.Parse("test", []byte("communities:\n  - id: burstlong\n    name: \"#burstlong\"\n    hashtags: [burstlong]\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := storage.NewWriter(env.Conn, nil)
	write := func(ps []*post.Post) {
		t.Helper()
		b, err := derive.New(cfg, threads.NewClickHouse(env.Conn), time.Now).Derive(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		if err := bursts.WriteAndPlace(ctx, w, b); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(n int, at time.Time) *post.Post {
		p := &post.Post{ID: fmt.Sprintf("sim:%s-%d", id, n), Source: post.SourceSim, Community: id,
			Author: post.Account{ID: "sim:ana", Handle: "ana"}, CreatedAt: at, Text: "still here #burstlong", Hashtags: []string{id}}
		p.Normalize()
		return p
	}
	start := time.Date(2026, 5, 1, 0, 5, 0, 0, time.UTC)
	var batch []*post.Post
	n := 0
	for at := start; at.Before(start.Add(60 * time.Hour)); at = at.Add(20 * time.Minute) {
		n++
		batch = append(batch, mk(n, at))
		if len(batch) == 12 {
			write(batch)
			batch = nil
		}
	}
	write(batch)
	second := start.Add(63 * time.Hour)
	write([]*post.Post{mk(1000, second), mk(1001, second.Add(10*time.Minute))})

	type row struct {
		ID    string   `ch:"id"`
		Cells []string `ch:"cells"`
	}
	sessionsNow := func() []row {
		t.Helper()
		var rows []row
		if err := env.Conn.Select(ctx, &rows, "SELECT id, cells FROM chatnight.detected_sessions WHERE community = 'burstlong' ORDER BY start"); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	first := sessions.CellID(id, sessions.CellStart(start, community.DefaultSessionGap))
	got := sessionsNow()
	if len(got) != 2 || got[0].ID != first || len(got[0].Cells) != 120 || len(got[1].Cells) != 1 {
		t.Fatalf("detected sessions %d: first %s over %d cells; want %s over 120 cells, then one of 1 cell", len(got), got[0].ID, len(got[0].Cells), first)
	}
	// The late posts bridge the silence: one session, named after the first cell.
	end := start.Add(60*time.Hour - 20*time.Minute)
	write([]*post.Post{mk(2000, end.Add(25*time.Minute)), mk(2001, end.Add(50*time.Minute)), mk(2002, end.Add(75*time.Minute)),
		mk(2003, end.Add(100*time.Minute)), mk(2004, end.Add(125*time.Minute)), mk(2005, end.Add(150*time.Minute)), mk(2006, end.Add(175*time.Minute))})
	got = sessionsNow()
	if len(got) != 1 || got[0].ID != first {
		t.Fatalf("after the bridge: %d detected sessions (%v), want one: %s", len(got), got, first)
	}
	var merged string
	if err := env.Conn.QueryRow(ctx, "SELECT merged_into FROM chatnight.bursts FINAL WHERE community = 'burstlong' AND id = ?",
		sessions.CellID(id, sessions.CellStart(second, community.DefaultSessionGap))).Scan(&merged); err != nil || merged != first {
		t.Errorf("the second chat's row: merged into %q (%v), want %s", merged, err, first)
	}
}
