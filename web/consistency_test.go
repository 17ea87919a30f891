package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/archive"
	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/processor"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
	"github.com/chatnight/chatnight/web/readmodel"
)

// TestEveryViewAgrees imports every archive format the importer reads (the fixtures
// of ingest/archive) and a simulated night into one community, runs them through the
// processor as `chatnight run` does, and checks that for every session the sessions
// list, the session, its stats (what `chatnight report` prints), its participants, the
// viewer's backfill and Grafana's session picker and panels tell the same numbers, and
// that the sessions' posts add up to the community's stored posts.
func TestEveryViewAgrees(t *testing.T) {
	const id = "agree"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := communities(t, id)
	cm, _ := cfg.Lookup(id)
	night := simulator.Generate(simulator.Night{Community: cm, Seed: 5, Posts: 400,
		Start: time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)}) // a Tuesday 20:30 in New York
	// Two of the night's accounts are one person, declared in the communities file:
	// every view counts people.
	var linked []string
	for _, p := range night {
		if len(linked) < 2 && !slices.Contains(linked, p.Author.ID) {
			linked = append(linked, p.Author.ID)
		}
	}
	cfg.People = []people.Declared{{Name: "Pat", Accounts: linked}}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ts := startServer(t, cfg, func() time.Time { return now })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	im, err := ingest.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	em := ingest.NewEmitter(ts.bus.JS, im, quiet)
	formats := map[string]string{"x-v2": "hcldr_v2.jsonl", "x-v1": "hcldr_v1.json", "tags-csv": "hcldr_tags.csv",
		"mastodon": "hcldr_mastodon.json", "jetstream": "hcldr_jetstream.jsonl"}
	for format, file := range formats {
		sum, err := archive.Import(ctx, archive.Options{Community: cm, Format: format}, em,
			filepath.Join("..", "ingest", "archive", "testdata", file))
		if err != nil || sum.Published == 0 {
			t.Fatalf("import %s: %+v %v", file, sum, err)
		}
	}
	if err := em.Batch(ctx, id, post.SourceSim, "agree-night", night); err != nil {
		t.Fatal(err)
	}
	if err := em.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	pm, err := processor.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := processor.New(processor.Config{BatchWait: 50 * time.Millisecond}, ts.bus.JS,
		derive.New(cfg, threads.NewClickHouse(ch), time.Now).WithCrossPosts(copies.NewClickHouse(ch, cfg.People)),
		storage.NewWriter(ch, nil), pm, quiet)
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	}()
	waitDrained(t, ctx, ts.bus.JS)

	var stored uint64
	if err := ch.QueryRow(ctx, "SELECT count() FROM chatnight.posts FINAL WHERE community = ?", id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	var list []readmodel.Session
	getJSON(t, ts.url+"/api/communities/"+id+"/sessions?limit=1000", 200, &list)
	if len(list) < 3 {
		t.Fatalf("%d sessions, want the imported ones and the night: %+v", len(list), list)
	}
	t.Logf("%d sessions, %d posts stored", len(list), stored)
	const nightSession = id + "-20261125T013000Z"
	sawNight := false
	picker := grafanaVariable(t, "chat-night.json", "session", id)
	var sum uint64
	for _, s := range list {
		sum += s.Posts
		if !picker[s.ID] {
			t.Errorf("Grafana's session picker does not offer %s (%s)", s.ID, s.Kind)
		}
		var one readmodel.Session
		getJSON(t, ts.url+"/api/sessions/"+s.ID, 200, &one)
		var st readmodel.SessionStats
		getJSON(t, ts.url+"/api/sessions/"+s.ID+"/stats", 200, &st)
		var parts []readmodel.Participant
		getJSON(t, ts.url+"/api/sessions/"+s.ID+"/participants", 200, &parts)
		var posts struct {
			Posts []json.RawMessage `json:"posts"`
		}
		getJSON(t, ts.url+"/api/sessions/"+s.ID+"/posts", 200, &posts)
		newcomers, partPosts := uint64(0), uint64(0)
		for _, p := range parts {
			partPosts += p.Posts
			if p.Newcomer {
				newcomers++
			}
		}
		grafana := func(title string) uint64 { return grafanaStat(t, "chat-night.json", title, id, s.ID) }
		views := []struct {
			what               string
			posts, partipicant uint64
		}{
			{"sessions list", s.Posts, s.Participants},
			{"session", one.Posts, one.Participants},
			{"stats (report)", st.Posts, st.Counts.Participants},
			{"stats' session", st.Session.Posts, st.Session.Participants},
			{"participants", partPosts, uint64(len(parts))},
			{"transcript", uint64(len(posts.Posts)), s.Participants},
			{"Grafana panels", grafana("Posts"), grafana("Participants")},
		}
		for _, v := range views {
			if v.posts != s.Posts || v.partipicant != s.Participants || s.Posts == 0 {
				t.Errorf("session %s: %s says %d posts, %d participants; the sessions list %d, %d",
					s.ID, v.what, v.posts, v.partipicant, s.Posts, s.Participants)
			}
		}
		// Grafana's leaderboard is the API's, person by person.
		// (Grafana lists 20, the API's stats 10.)
		if top := grafanaTop(t, id, s.ID); uint64(len(top)) != min(st.Counts.Participants, 20) || len(st.TopParticipants) == 0 {
			t.Errorf("session %s: Grafana's top participants list %d people, of %d", s.ID, len(top), st.Counts.Participants)
		} else {
			for i, row := range top[:min(len(top), len(st.TopParticipants))] {
				if a := st.TopParticipants[i]; a.Count != row.posts || a.Handle != row.handle && row.handle != "(opted out)" {
					t.Errorf("session %s: Grafana's top participant %d is %s with %d posts, the API's %s with %d", s.ID, i+1, row.handle, row.posts, a.Handle, a.Count)
				}
			}
		}
		var accounts readmodel.SessionStats
		getJSON(t, ts.url+"/api/sessions/"+s.ID+"/stats?people=accounts", 200, &accounts)
		if s.ID == nightSession {
			sawNight = true
			if accounts.Counts.Participants != st.Counts.Participants+1 {
				t.Errorf("session %s: %d accounts, %d people; want Pat's two accounts counted as one person", s.ID,
					accounts.Counts.Participants, st.Counts.Participants)
			}
		}
		if newcomers != st.Newcomers || st.Newcomers+st.Returning != st.Counts.Participants {
			t.Errorf("session %s: %d newcomers among the participants, stats say %d newcomers and %d returning of %d",
				s.ID, newcomers, st.Newcomers, st.Returning, st.Counts.Participants)
		}
	}
	if sum != stored {
		t.Errorf("the sessions hold %d posts, the community %d", sum, stored)
	}
	if !sawNight {
		t.Errorf("no session %s", nightSession)
	}
	// The community's totals: Grafana's overview counts the people the API counts.
	var period readmodel.CommunityStats
	getJSON(t, ts.url+"/api/communities/"+id+"/stats?from=2000-01-01&to=2100-01-01", 200, &period)
	if g, n := grafanaStat(t, "community-overview.json", "Participants", id, ""), grafanaStat(t, "community-overview.json", "Newcomers", id, ""); g != period.Participants || n != period.Newcomers || g == 0 {
		t.Errorf("Grafana's community overview counts %d participants, %d newcomers; the API %d, %d", g, n, period.Participants, period.Newcomers)
	}
	if n := grafanaStat(t, "community-overview.json", "Sessions", id, ""); n != uint64(len(list)) {
		t.Errorf("Grafana's community overview counts %d sessions, the API lists %d", n, len(list))
	}
}

// waitDrained waits until the processors acknowledged every post.
func waitDrained(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	for {
		c, err := js.Consumer(ctx, bus.PostsStream, bus.ProcessorConsumer)
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("the processor did not drain the posts stream")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// grafanaQuery finds a query of a provisioned dashboard (a variable's or a panel's)
// and fills in the community and session variables and a time range covering all.
func grafanaQuery(t *testing.T, file, name, community, session string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "dashboards", file))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RawSQL string `json:"rawSql"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	q := ""
	for _, v := range d.Templating.List {
		if v.Name == name {
			if json.Unmarshal(v.Query, &q) != nil {
				var o struct {
					RawSQL string `json:"rawSql"`
				}
				json.Unmarshal(v.Query, &o)
				q = o.RawSQL
			}
		}
	}
	for _, p := range d.Panels {
		if p.Title == name && len(p.Targets) > 0 {
			q = p.Targets[0].RawSQL
		}
	}
	if q == "" {
		t.Fatalf("%s: no query named %q", file, name)
	}
	r := strings.NewReplacer("${community}", community, "${session}", session,
		"$__timeFilter(start)", "start BETWEEN toDateTime64('2000-01-01 00:00:00', 3, 'UTC') AND toDateTime64('2100-01-01 00:00:00', 3, 'UTC')")
	return r.Replace(q)
}

// grafanaVariable runs a dashboard variable's query: the values it offers.
func grafanaVariable(t *testing.T, file, name, community string) map[string]bool {
	t.Helper()
	q := grafanaQuery(t, file, name, community, "")
	rows, err := ch.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("variable %s: %v\n%s", name, err, q)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out[v] = true
	}
	return out
}

// grafanaTop runs chat-night's Top participants panel for a session: handle and posts
// by row.
func grafanaTop(t *testing.T, community, session string) []struct {
	handle string
	posts  uint64
} {
	t.Helper()
	q := grafanaQuery(t, "chat-night.json", "Top participants", community, session)
	rows, err := ch.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("Top participants: %v\n%s", err, q)
	}
	defer rows.Close()
	var out []struct {
		handle string
		posts  uint64
	}
	for rows.Next() {
		var handle string
		var posts, replies, accounts uint64
		if err := rows.Scan(&handle, &posts, &replies, &accounts); err != nil {
			t.Fatal(err)
		}
		out = append(out, struct {
			handle string
			posts  uint64
		}{handle, posts})
	}
	return out
}

// grafanaStat runs a stat panel's query: its first number (0 without a row).
func grafanaStat(t *testing.T, file, title, community, session string) uint64 {
	t.Helper()
	q := grafanaQuery(t, file, title, community, session)
	rows, err := ch.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("panel %s: %v\n%s", title, err, q)
	}
	defer rows.Close()
	if !rows.Next() {
		return 0
	}
	var v any
	cols := rows.ColumnTypes()
	switch cols[0].DatabaseTypeName() {
	case "UInt64":
		var n uint64
		v = &n
	default:
		t.Fatalf("panel %s: a %s column", title, cols[0].DatabaseTypeName())
	}
	if err := rows.Scan(v); err != nil {
		t.Fatal(err)
	}
	return *v.(*uint64)
}
