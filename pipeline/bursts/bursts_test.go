package bursts_test

import (
	"context"
	"fmt"
	"os"
	"strings"
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

// TestRemovePostsPlacesAgain: deleting posts of a detected session shrinks or splits
// it, renames a session whose first cell emptied (its old id still resolving), and
// forgets one with no post left; after each deletion the stored sessions are exactly
// what the rule finds over the posts that remain (the detected_sessions view).
func TestRemovePostsPlacesAgain(t *testing.T) {
	const id = "burstdel"
	env := chdbtest.Start(t)
	ctx := context.Background()
	cfg, err := community.Parse("test", []byte("communities:\n  - id: burstdel\n    name: \"#burstdel\"\n    hashtags: [burstdel]\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := storage.NewWriter(env.Conn, nil)
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	at := func(hhmm string) time.Time {
		d, err := time.ParseDuration(hhmm[:2] + "h" + hhmm[3:] + "m")
		if err != nil {
			t.Fatal(err)
		}
		return day.Add(d)
	}
	cell := func(hhmm string) string {
		return sessions.CellID(id, sessions.CellStart(at(hhmm), community.DefaultSessionGap))
	}
	pid := func(hhmm string) string { return "sim:" + id + "-" + hhmm }
	var ps []*post.Post
	// 20 to 25 minutes apart (the gap is 30): one session over the cells of 00:00,
	// 00:30, 01:00 and 01:30.
	for _, hhmm := range []string{"00:05", "00:25", "00:50", "01:10", "01:35"} {
		p := &post.Post{ID: pid(hhmm), Source: post.SourceSim, Community: id, Author: post.Account{ID: "sim:ana", Handle: "ana"},
			CreatedAt: at(hhmm), Text: "still here #burstdel", Hashtags: []string{id}}
		p.Normalize()
		ps = append(ps, p)
	}
	b, err := derive.New(cfg, threads.NewClickHouse(env.Conn), time.Now).Derive(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	if err := bursts.WriteAndPlace(ctx, w, b); err != nil {
		t.Fatal(err)
	}
	type span struct {
		ID    string    `ch:"id"`
		Start time.Time `ch:"start"`
		End   time.Time `ch:"end"`
	}
	read := func(q string) string {
		t.Helper()
		var rows []span
		if err := env.Conn.Select(ctx, &rows, q); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprintf("%s %s-%s", r.ID[len(id)+2:], r.Start.UTC().Format("15:04"), r.End.UTC().Format("15:04")))
		}
		return fmt.Sprint(out)
	}
	stored := func() string {
		return read("SELECT id, start, `end` FROM chatnight.bursts FINAL WHERE community = 'burstdel' AND merged_into = '' ORDER BY start")
	}
	rule := func() string {
		return read("SELECT id, start, `end` FROM chatnight.detected_sessions WHERE community = 'burstdel' ORDER BY start")
	}
	resolve := func(c string) string {
		t.Helper()
		var s string
		if err := env.Conn.QueryRow(ctx, "SELECT session_id FROM chatnight.detected_cells FINAL WHERE community = 'burstdel' AND cell = ?", c).Scan(&s); err != nil {
			return "none"
		}
		return s[len(id)+2:]
	}
	remove := func(hhmm ...string) {
		t.Helper()
		var ids []string
		for _, h := range hhmm {
			ids = append(ids, pid(h))
		}
		if _, err := bursts.RemovePosts(ctx, w, cfg, ids); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name, remove string
		want         string
		resolves     map[string]string // cell -> session
	}{
		{"written", "", "[20260501T000000Z 00:05-01:35]", map[string]string{"01:30": "20260501T000000Z"}},
		// 00:25 to 01:10 is 45 minutes of silence: two sessions; the later one is named
		// after its own first cell.
		{"split", "00:50", "[20260501T000000Z 00:05-00:25 20260501T010000Z 01:10-01:35]",
			map[string]string{"00:30": "20260501T000000Z", "01:30": "20260501T010000Z"}},
		// The later session's first cell empties: it is named after the next, and its
		// old id resolves there.
		{"first cell emptied", "01:10", "[20260501T000000Z 00:05-00:25 20260501T013000Z 01:35-01:35]",
			map[string]string{"01:00": "20260501T013000Z", "01:30": "20260501T013000Z"}},
		// No post of the first session is left: it is gone, with its cells.
		{"gone", "00:05 00:25", "[20260501T013000Z 01:35-01:35]", map[string]string{"00:00": "none", "00:30": "none"}},
	} {
		if step.remove != "" {
			remove(strings.Fields(step.remove)...)
		}
		if got, want := stored(), rule(); got != step.want || want != step.want {
			t.Errorf("%s: stored sessions %s, the rule over the posts left %s, want %s", step.name, got, want, step.want)
		}
		for hhmm, want := range step.resolves {
			if got := resolve(cell(hhmm)); got != want {
				t.Errorf("%s: cell %s resolves to %s, want %s", step.name, hhmm, got, want)
			}
		}
	}
}
