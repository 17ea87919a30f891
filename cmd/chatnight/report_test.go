package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
	"github.com/chatnight/chatnight/web/host"
	"github.com/chatnight/chatnight/web/network"
	"github.com/chatnight/chatnight/web/readmodel"
)

// TestReportAndOptOut stores a simulated #HCLDR night in a running `chatnight run`,
// then uses `optout` and `report` against its ClickHouse endpoint, and checks that
// opening the embedded store it holds fails saying what to do.
func TestReportAndOptOut(t *testing.T) {
	ctx := context.Background()
	n := newNode(t, t.TempDir())
	n.start("run")
	conn := n.ch(ctx)

	cfg := community.Defaults()
	cm, _ := cfg.Lookup("hcldr")
	start, _ := time.Parse(time.RFC3339, e2eStart)
	posts := simulator.Generate(simulator.Night{Community: cm, Seed: 7, Posts: 300, Start: start})
	b, err := derive.New(cfg, threads.NewMemory(), time.Now).Derive(ctx, posts)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.NewWriter(conn, nil).Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, p := range posts {
		counts[p.Author.Handle]++
	}
	hidden := ""
	for h, c := range counts {
		if !strings.Contains(h, "host") && !strings.HasPrefix(h, "hcldr") && (hidden == "" || c > counts[hidden] || (c == counts[hidden] && h < hidden)) {
			hidden = h
		}
	}
	dsn := []string{"--clickhouse-dsn", n.chDSN()}

	if out := chatnight(t, append([]string{"optout", "list"}, dsn...)...); strings.TrimSpace(out) != "optout: no account is opted out" {
		t.Errorf("optout list of an empty list: %q", out)
	}
	if out := chatnight(t, append([]string{"optout", "remove", "never_added"}, dsn...)...); !strings.Contains(out, "never_added is not on the opt-out list; nothing changed") || strings.Contains(out, "shown again") {
		t.Errorf("optout remove of an account never added: %q", out)
	}
	out := chatnight(t, append([]string{"optout", "add", "@" + hidden}, dsn...)...)
	if !strings.Contains(out, hidden+" is opted out") || strings.Contains(out, "no stored post") {
		t.Fatalf("optout add said: %s", out)
	}
	if out := chatnight(t, append([]string{"optout", "add", "@nosuch_persn"}, dsn...)...); !strings.Contains(out, "no stored post is by nosuch_persn yet: check the spelling") {
		t.Errorf("optout add of an account never seen: %q", out)
	}
	chatnight(t, append([]string{"optout", "remove", "nosuch_persn"}, dsn...)...)
	if out := chatnight(t, append([]string{"optout", "list"}, dsn...)...); strings.TrimSpace(out) != hidden {
		t.Fatalf("optout list: %q, want %q", out, hidden)
	}

	var report struct {
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
		Posts        int `json:"posts"`
		Participants int `json:"participants"`
	}
	out = chatnight(t, append([]string{"report", "--community", "hcldr", "--session", "latest", "--format", "json"}, dsn...)...)
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("report json: %v\n%s", err, out)
	}
	authors := map[string]bool{}
	for _, p := range posts {
		authors[p.Author.ID] = true
	}
	if report.Session.ID != e2eSessionID || report.Posts != len(posts) || report.Participants != len(authors) {
		t.Errorf("report: %+v, want %s with %d posts of %d participants", report, e2eSessionID, len(posts), len(authors))
	}
	for _, format := range []string{"json", "text", "md"} {
		out := chatnight(t, append([]string{"report", "--community", "hcldr", "--session", e2eSessionID, "--format", format}, dsn...)...)
		if strings.Contains(strings.ToLower(out), hidden) {
			t.Errorf("report --format %s names the opted-out %s", format, hidden)
		}
		if format != "json" && strings.Contains(out, "sim:") {
			t.Errorf("report --format %s names accounts by id:\n%s", format, out)
		}
		if format != "json" && !strings.Contains(out, "Top participants") {
			t.Errorf("report --format %s:\n%s", format, out)
		}
	}
	// The welcome figures: in the JSON under welcome (one newcomer rule: the counts
	// agree), in the text report, and as a series over a period.
	var welcome struct {
		Newcomers int `json:"newcomers"`
		Welcome   struct {
			Newcomers int `json:"newcomers"`
			Welcomed  int `json:"welcomed"`
		} `json:"welcome"`
	}
	out = chatnight(t, append([]string{"report", "--community", "hcldr", "--session", e2eSessionID, "--format", "json"}, dsn...)...)
	if err := json.Unmarshal([]byte(out), &welcome); err != nil {
		t.Fatal(err)
	}
	if welcome.Welcome.Newcomers != welcome.Newcomers || welcome.Newcomers == 0 || welcome.Welcome.Welcomed == 0 {
		t.Errorf("report welcome %+v, want the session's newcomers, some welcomed", welcome)
	}
	if out := chatnight(t, append([]string{"report", "--community", "hcldr", "--session", e2eSessionID}, dsn...)...); !strings.Contains(out, "Newcomer welcome") || !strings.Contains(out, "Welcomers") {
		t.Errorf("text report without the welcome section:\n%s", out)
	}
	out = chatnight(t, append([]string{"report", "--community", "hcldr", "--from", start.AddDate(0, 0, -1).Format("2006-01-02"), "--format", "md"}, dsn...)...)
	if !strings.Contains(out, "# hcldr newcomer welcome") || !strings.Contains(out, e2eSessionID) || !strings.Contains(out, fmt.Sprintf("| newcomers | %d |", welcome.Newcomers)) {
		t.Errorf("welcome series report:\n%s", out)
	}

	chatnight(t, append([]string{"optout", "remove", hidden}, dsn...)...)
	if out := chatnight(t, append([]string{"report", "--community", "hcldr", "--format", "md"}, dsn...)...); !strings.Contains(out, hidden) {
		t.Errorf("after optout remove the report still hides %s", hidden)
	}

	// The running node holds the embedded store: a second process says to use its endpoint.
	msg, code := runChild(t, nil, "report", "--community", "hcldr", "--data-dir", n.dataDir)
	if code == 0 || !strings.Contains(msg, "--clickhouse-dsn") {
		t.Errorf("report on a data dir in use: exit %d\n%s", code, msg)
	}
	if _, code := runChild(t, nil, "optout", "add"); code != 2 {
		t.Errorf("optout add without a handle: exit %d, want 2", code)
	}
}

// TestReportEmptySectionsAndHandles: an empty section says "none" instead of bare
// table headers, and central accounts are named by handle.
func TestReportEmptySectionsAndHandles(t *testing.T) {
	s := &readmodel.SessionStats{}
	s.Session.Community, s.Session.ID = "hcldr", "hcldr-2026-11-25"
	s.Network.PerNode = []network.NodeMetrics{{ID: "sim:design4health", Handle: "design4health", PageRank: 0.5}}
	for _, md := range []bool{false, true} {
		var out strings.Builder
		writeReport(&out, s, nil, md)
		text := out.String()
		if strings.Contains(text, "sim:design4health") || !strings.Contains(text, "@design4health") {
			t.Errorf("md=%v: central account not named by handle:\n%s", md, text)
		}
		for _, bare := range []string{"#  account  posts", "| # | account | posts |", "question  answers", "value  count", "| value | count |"} {
			if strings.Contains(text, bare) {
				t.Errorf("md=%v: empty section prints its header %q:\n%s", md, bare, text)
			}
		}
		if strings.Count(text, "none") < 8 {
			t.Errorf("md=%v: empty sections do not say none:\n%s", md, text)
		}
	}
}

func TestWriteWelcome(t *testing.T) {
	share, median, ratio := 1.0/3, 2.0, 2.0
	wl := host.Welcome{WindowMinutes: 10, Newcomers: 3, Welcomed: 1, WelcomedShare: &share, MedianMinutesToWelcome: &median,
		Welcomers:        []host.Welcomer{{AuthorID: "sim:ana", Handle: "ana", Newcomers: 1}, {AuthorID: "sim:carol", Handle: "carol", Newcomers: 1}},
		ReturnedWelcomed: 1, ReturnedUnwelcomed: 1, LaterSessions: 4, ReturnRatio: &ratio}
	var b strings.Builder
	writeWelcome(&b, wl, true)
	want := `
## Newcomer welcome

| metric | value |
| --- | --- |
| newcomers | 3 |
| welcomed (a reply from someone else within 10 min) | 1 |
| welcomed share | 0.33 |
| median minutes to welcome | 2.0 |
| welcomed who returned (next 4 sessions) | 1 |
| unwelcomed who returned (next 4 sessions) | 1 |
| welcomed newcomers return × | 2.00 |

## Welcomers

| # | account | newcomers welcomed |
| --- | --- | --- |
| 1 | @ana | 1 |
| 2 | @carol | 1 |
`
	if b.String() != want {
		t.Errorf("welcome section:\n%s\nwant:\n%s", b.String(), want)
	}
	if _, _, err := reportPeriod("", "2026-01-01", time.Now()); err == nil {
		t.Error("--to without --from accepted")
	}
	if _, _, err := reportPeriod("2026-02-01", "2026-01-01", time.Now()); err == nil {
		t.Error("--from after --to accepted")
	}
}
