// Package upgradetest checks that the read model's migrations upgrade a data dir
// written by the previous release: its own test binary, since the embedded engine is
// started once per process with the schema of that release (migrations 0001-0004).
package upgradetest

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/pipeline/storage/schema"
	"github.com/chatnight/chatnight/pipeline/threads"
	"github.com/chatnight/chatnight/web/readmodel"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// lastRelease is the newest migration of the release before the read model.
const lastRelease = 4

// TestUpgradeFromPreviousRelease writes a scheduled night and two off-schedule chats
// with the schema and the writer of the previous release (detected sessions were then
// resolved when read, by the detected_sessions view), upgrades, and reads everything
// back through the read model: the same sessions, with the same ids and cells, every
// stored post counted once. Then it keeps writing through the new path: a session
// grows under its id, and a late post bridging the two chats merges them.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	const id = "upgrade"
	env := chdbtest.StartAt(t, lastRelease)
	ctx := context.Background()
	cfg, err := community.Parse("test", []byte(`
communities:
  - id: upgrade
    name: "#upgrade"
    hashtags: [upgrade]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
`))
	if err != nil {
		t.Fatal(err)
	}
	cm, _ := cfg.Lookup(id)
	slot := time.Date(2026, 3, 4, 1, 30, 0, 0, time.UTC) // Tuesday 20:30 in New York
	chat1 := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	chat2 := chat1.Add(3 * time.Hour)
	posts := simulator.Generate(simulator.Night{Community: cm, Seed: 7, Posts: 300, Start: slot})
	mk := func(pid, author string, at time.Time) *post.Post {
		p := &post.Post{ID: "sim:" + pid, Source: post.SourceSim, Community: id,
			Author: post.Account{ID: "sim:" + author, Handle: author}, CreatedAt: at, Text: "hello #upgrade", Hashtags: []string{id}}
		p.Normalize()
		return p
	}
	posts = append(posts,
		mk("a1", "ana", chat1), mk("a2", "ben", chat1.Add(25*time.Minute)), mk("a3", "ana", chat1.Add(50*time.Minute)),
		mk("b1", "cy", chat2), mk("b2", "ana", chat2.Add(20*time.Minute)))

	// The previous release: derive and write, no detected sessions stored.
	b, err := derive.New(cfg, threads.NewClickHouse(env.Conn), time.Now).Derive(ctx, posts)
	if err != nil {
		t.Fatal(err)
	}
	// That release had no consent signals (0015), people, segments or copies (0020-0024).
	b.Consent, b.Segments, b.Claims, b.People, b.Copies, b.Texts = nil, nil, nil, nil, nil, nil
	// It kept authors' bios in the payloads: a Mastodon note, an X v1 description.
	const oldBio, oldDesc = `Zephyr nurse, \"quoted\" and \\ escaped`, "Marlow patient advocate"
	b.Posts[0].Raw = `{"id":"1","account":{"acct":"ana","note":"` + oldBio + `","fields":[]},"content":"<p>hi</p>"}`
	b.Posts[1].Raw = `{"id_str":"2","text":"hi","user":{"screen_name":"ben","description": "` + oldDesc + `"}}`
	if err := storage.NewWriter(env.Conn, nil).Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	type detected struct {
		ID    string   `ch:"id"`
		Cells []string `ch:"cells"`
		Posts uint64   `ch:"posts"`
	}
	var before []detected
	if err := env.Conn.Select(ctx, &before, "SELECT id, cells, posts FROM chatnight.detected_sessions WHERE community = 'upgrade' ORDER BY start"); err != nil {
		t.Fatal(err)
	}
	if len(before) != 2 {
		t.Fatalf("the previous release sees %d detected sessions, want 2: %+v", len(before), before)
	}

	applied, err := schema.Migrate(ctx, env.Conn)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if len(applied) == 0 || applied[0] != "0005_read_model" {
		t.Fatalf("upgrade applied %v, want 0005_read_model first", applied)
	}

	// The upgrade blanks the bios kept before, and leaves the payloads valid JSON.
	var raws []string
	rows, err := env.Conn.Query(ctx, "SELECT raw FROM chatnight.posts WHERE id IN (?, ?) ORDER BY id", b.Posts[0].ID, b.Posts[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, r)
	}
	rows.Close()
	for _, r := range raws {
		if strings.Contains(r, "Zephyr") || strings.Contains(r, "Marlow") || !json.Valid([]byte(r)) {
			t.Errorf("after the upgrade a payload keeps a bio (or is no JSON): %s", r)
		}
	}
	if len(raws) != 2 || !strings.Contains(raws[0]+raws[1], `"note":""`) || !strings.Contains(raws[0]+raws[1], `"description": ""`) {
		t.Errorf("after the upgrade: payloads %q, want the bio keys kept with empty values", raws)
	}

	rm := readmodel.New(env.Conn)
	list, err := rm.Sessions(ctx, id, slot.AddDate(1, 0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	var stored uint64
	if err := env.Conn.QueryRow(ctx, "SELECT count() FROM chatnight.posts FINAL WHERE community = 'upgrade'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	var sum uint64
	var got []detected
	for _, s := range list {
		sum += s.Posts
		if s.Kind == sessions.KindDetected {
			got = append(got, detected{ID: s.ID, Cells: s.Cells, Posts: s.Posts})
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	if sum != stored || sum != uint64(len(posts)) {
		t.Errorf("after the upgrade the sessions hold %d posts, %d are stored, %d were written", sum, stored, len(posts))
	}
	if len(got) != len(before) {
		t.Fatalf("after the upgrade: detected sessions %+v, before %+v", got, before)
	}
	for i := range got {
		if got[i].ID != before[i].ID || len(got[i].Cells) != len(before[i].Cells) || got[i].Posts != before[i].Posts {
			t.Errorf("detected session %d: %+v after the upgrade, %+v before", i, got[i], before[i])
		}
	}

	// The new release keeps writing: the first chat grows under its id...
	write := func(ps ...*post.Post) {
		t.Helper()
		b, err := derive.New(cfg, threads.NewClickHouse(env.Conn), time.Now).Derive(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		if err := bursts.WriteAndPlace(ctx, storage.NewWriter(env.Conn, nil), b); err != nil {
			t.Fatal(err)
		}
	}
	first := before[0].ID
	write(mk("a4", "dee", chat1.Add(70*time.Minute)))
	s, ok, err := rm.Session(ctx, first)
	if err != nil || !ok || s.ID != first || s.Posts != before[0].Posts+1 || s.Participants != 3 {
		t.Errorf("the first chat after a new post: %+v %v %v; want %s with %d posts of 3 participants", s, ok, err, first, before[0].Posts+1)
	}
	// ...and late posts bridging the two chats merge them into the first.
	// (the first ends 70 minutes in, the second starts 180 minutes in; the gap is 30)
	write(mk("x1", "eve", chat1.Add(95*time.Minute)), mk("x2", "eve", chat1.Add(120*time.Minute)),
		mk("x3", "eve", chat1.Add(145*time.Minute)), mk("x4", "eve", chat1.Add(170*time.Minute)))
	merged, ok, err := rm.Session(ctx, before[1].ID)
	if err != nil || !ok || merged.ID != first || merged.Posts != before[0].Posts+before[1].Posts+5 {
		t.Errorf("the second chat after the bridge: %+v %v %v; want it merged into %s", merged, ok, err, first)
	}
	list, err = rm.Sessions(ctx, id, slot.AddDate(1, 0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range list {
		if s.Kind == sessions.KindDetected {
			n++
		}
	}
	if n != 1 {
		t.Errorf("after the bridge: %d detected sessions, want 1: %+v", n, list)
	}
	// Research stewardship (migration 0015) on the upgraded dir: a post the previous
	// release wrote is deleted at its source; the merged session counts it no more,
	// its author, who wrote nothing else, is no participant, and the post it bridged to
	// is a session again; the deletion, a completeness event and a consent signal are
	// on record.
	if !contains(applied, "0015_stewardship") {
		t.Errorf("upgrade applied %v, want 0015_stewardship among them", applied)
	}
	now := time.Now().UTC()
	if err := storage.WriteDeletions(ctx, env.Conn, []storage.DeletionRow{{PostID: "sim:b1", Source: "sim", Reason: "test",
		DeletedAt: now, RecordedAt: now, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bursts.RemovePosts(ctx, storage.NewWriter(env.Conn, nil), cfg, []string{"sim:b1"}); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteCompleteness(ctx, env.Conn, []storage.CompletenessRow{{Source: "sim", Community: id, From: chat1,
		To: chat1.Add(2 * time.Minute), Kind: "outage", EventID: "e1", RecordedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteConsent(ctx, env.Conn, []storage.ConsentRow{{AccountID: "sim:ana", Handle: "ana", NoIndex: 1, SeenAt: now, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	after, ok, err := rm.Session(ctx, first)
	if err != nil || !ok || after.Posts != merged.Posts-2 || after.Participants != merged.Participants-1 {
		t.Errorf("the merged session after deleting sim:b1: %d posts of %d participants (%v %v), want %d of %d",
			after.Posts, after.Participants, ok, err, merged.Posts-2, merged.Participants-1)
	}
	// sim:b1 bridged x4 (170 minutes in) and sim:b2 (200 minutes in): without it, the
	// silence is the gap, and sim:b2 is a session of its own, named after its cell.
	last := sessions.CellID(id, sessions.CellStart(chat2, community.DefaultSessionGap))
	split, ok, err := rm.Session(ctx, last)
	if err != nil || !ok || split.ID != last || split.Posts != 1 || split.Participants != 1 {
		t.Errorf("sim:b2 after deleting sim:b1: %+v %v %v; want its own session %s of 1 post", split, ok, err, last)
	}
	deleted, err := storage.DeletedAmong(ctx, env.Conn, []string{"sim:b1", "sim:b2"})
	if err != nil || len(deleted) != 1 || !deleted["sim:b1"] {
		t.Errorf("deletions on record: %v %v, want sim:b1", deleted, err)
	}
	var events, consent uint64
	if err := env.Conn.QueryRow(ctx, "SELECT (SELECT count() FROM chatnight.completeness_events FINAL WHERE community = 'upgrade'), "+
		"(SELECT count() FROM chatnight.account_consent FINAL WHERE noindex = 1)").Scan(&events, &consent); err != nil || events != 1 || consent != 1 {
		t.Errorf("completeness events %d, noindex accounts %d (%v); want 1 and 1", events, consent, err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
