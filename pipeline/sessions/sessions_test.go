package sessions

import (
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
)

const testConfig = `
communities:
  - id: hcldr
    hashtags: [hcldr]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
    hosts: {x: [colin_hung, hcldr], sim: [joe]}
  - id: nhsx
    hashtags: [nhsx]
    schedule:
      - {weekday: thursday, start: "19:00", timezone: Europe/London, duration: 60m}
  - id: double
    hashtags: [double]
    schedule:
      - {weekday: monday, start: "20:00", timezone: America/New_York, duration: 60m}
      - {weekday: monday, start: "21:00", timezone: America/New_York, duration: 60m}
  - id: early
    hashtags: [early]
    schedule:
      - {weekday: sunday, start: "01:30", timezone: America/New_York, duration: 60m}
  - id: open
    hashtags: [open]
    session_gap: 30m
`

func testCommunities(t *testing.T) *community.Config {
	t.Helper()
	cfg, err := community.Parse("test", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAtScheduled(t *testing.T) {
	cfg := testCommunities(t)
	tests := []struct {
		name, community, at, want string // want "" means outside every slot: a detected cell
	}{
		// America/New_York springs forward on Sunday 2026-03-08: 20:30 is 01:30Z before, 00:30Z after.
		{"EST week start", "hcldr", "2026-03-04T01:30:00Z", "hcldr-20260304T013000Z"},
		{"EST week grace before", "hcldr", "2026-03-04T01:15:00Z", "hcldr-20260304T013000Z"},
		{"EST week too early", "hcldr", "2026-03-04T01:14:59Z", ""},
		{"EST week grace after", "hcldr", "2026-03-04T02:59:59Z", "hcldr-20260304T013000Z"},
		{"EST week too late", "hcldr", "2026-03-04T03:00:00Z", ""},
		{"EDT week start", "hcldr", "2026-03-11T00:30:00Z", "hcldr-20260311T003000Z"},
		{"EDT week in slot", "hcldr", "2026-03-11T01:29:00Z", "hcldr-20260311T003000Z"},
		{"EDT week grace after", "hcldr", "2026-03-11T01:45:00Z", "hcldr-20260311T003000Z"},
		{"EDT week 20:30 EST is too late", "hcldr", "2026-03-11T02:00:00Z", ""},
		// ... and falls back on Sunday 2026-11-01.
		{"fall EDT week", "hcldr", "2026-10-28T00:40:00Z", "hcldr-20261028T003000Z"},
		{"fall EST week", "hcldr", "2026-11-04T01:40:00Z", "hcldr-20261104T013000Z"},
		{"fall EST week 20:30 EDT is too early", "hcldr", "2026-11-04T00:30:00Z", ""},
		{"recorded night", "hcldr", "2026-11-25T01:30:00Z", "hcldr-20261125T013000Z"},
		{"other weekday", "hcldr", "2026-11-26T01:30:00Z", ""},
		// Europe/London: BST from Sunday 2026-03-29 to Sunday 2026-10-25.
		{"London GMT", "nhsx", "2026-03-26T19:10:00Z", "nhsx-20260326T190000Z"},
		{"London BST", "nhsx", "2026-04-02T18:10:00Z", "nhsx-20260402T180000Z"},
		{"London BST 19:00Z is in the slot", "nhsx", "2026-04-02T19:00:00Z", "nhsx-20260402T180000Z"},
		{"London last BST week", "nhsx", "2026-10-22T18:00:00Z", "nhsx-20261022T180000Z"},
		{"London first GMT week", "nhsx", "2026-10-29T19:00:00Z", "nhsx-20261029T190000Z"},
		{"London first GMT week, BST time", "nhsx", "2026-10-29T18:50:00Z", "nhsx-20261029T190000Z"}, // grace before
		{"London first GMT week, too early", "nhsx", "2026-10-29T18:00:00Z", ""},
		// Back-to-back slots: a slot's own time wins over the other's grace window.
		{"first slot", "double", "2026-11-24T01:55:00Z", "double-20261124T010000Z"},
		{"second slot over first's grace", "double", "2026-11-24T02:10:00Z", "double-20261124T020000Z"},
		{"second slot's grace after", "double", "2026-11-24T03:20:00Z", "double-20261124T020000Z"},
		{"first slot's grace before", "double", "2026-11-24T00:50:00Z", "double-20261124T010000Z"},
		// A slot at 01:30 on the night clocks go back: the local hour happens twice, and
		// Go takes the first (EDT). On the night clocks go forward 01:30 still exists.
		{"fall-back night", "early", "2026-11-01T05:45:00Z", "early-20261101T053000Z"},
		{"spring-forward night", "early", "2026-03-08T06:40:00Z", "early-20260308T063000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm, _ := cfg.Lookup(tt.community)
			s := At(cm, utc(tt.at))
			if tt.want == "" {
				if s == nil || s.Kind != KindCell || s.ID != CellID(cm.ID, CellStart(utc(tt.at), Gap(cm))) {
					t.Errorf("At(%s, %s) = %+v, want the cell of that time", tt.community, tt.at, s)
				}
				if Scheduled(cm, utc(tt.at)) != nil {
					t.Errorf("Scheduled(%s, %s) is not nil", tt.community, tt.at)
				}
				return
			}
			got := ""
			if s != nil {
				got = s.ID
				if s.Kind != KindScheduled || s.End.Sub(s.Start) != time.Hour {
					t.Errorf("session %+v: want a scheduled hour", s)
				}
				if from, to := s.Window(); utc(tt.at).Before(from) || !utc(tt.at).Before(to) {
					t.Errorf("%s outside the session's window [%s, %s)", tt.at, from, to)
				}
			}
			if got != tt.want {
				t.Errorf("At(%s, %s) = %q, want %q", tt.community, tt.at, got, tt.want)
			}
		})
	}
}

func TestScheduledHosts(t *testing.T) {
	cfg := testCommunities(t)
	cm, _ := cfg.Lookup("hcldr")
	s := At(cm, utc("2026-11-25T01:30:00Z"))
	want := []string{"sim:@joe", "x:@colin_hung", "x:@hcldr"}
	if len(s.Hosts) != len(want) {
		t.Fatalf("hosts %v, want %v", s.Hosts, want)
	}
	for i := range want {
		if s.Hosts[i] != want[i] {
			t.Fatalf("hosts %v, want %v", s.Hosts, want)
		}
	}
	row := s.Row(7)
	if row.ID != s.ID || row.Kind != "scheduled" || row.Version != 7 || !row.Start.Equal(s.Start) {
		t.Errorf("row %+v", row)
	}
}

func TestAtCell(t *testing.T) {
	cfg := testCommunities(t)
	cm, _ := cfg.Lookup("open")
	tests := []struct{ at, want string }{
		{"2026-11-26T14:00:00Z", "open-C20261126T140000Z"},
		{"2026-11-26T14:29:59.999Z", "open-C20261126T140000Z"},
		{"2026-11-26T14:30:00Z", "open-C20261126T143000Z"},
		{"1969-12-31T23:59:00Z", "open-C19691231T233000Z"},
	}
	for _, tt := range tests {
		s := At(cm, utc(tt.at))
		if s == nil || s.ID != tt.want || s.Kind != KindCell || s.End.Sub(s.Start) != 30*time.Minute {
			t.Errorf("At(open, %s) = %+v, want cell %s", tt.at, s, tt.want)
		}
		if !IsCellID(s.ID) {
			t.Errorf("IsCellID(%q) = false", s.ID)
		}
	}
	for _, id := range []string{"hcldr-20261125T013000Z", "x", "", "a-c20261125T013000Z"} {
		if IsCellID(id) {
			t.Errorf("IsCellID(%q) = true", id)
		}
	}
}

func TestStatus(t *testing.T) {
	cfg := testCommunities(t)
	hcldr, _ := cfg.Lookup("hcldr")
	stored := &Session{ID: "hcldr-20261125T013000Z", Community: "hcldr", Kind: KindScheduled,
		Start: utc("2026-11-25T01:30:00Z"), End: utc("2026-11-25T02:30:00Z")}
	burst := &Session{ID: "hcldr-C20261122T120000Z", Community: "hcldr", Kind: KindDetected,
		Start: utc("2026-11-22T12:05:00Z"), End: utc("2026-11-22T13:00:00Z")}
	gap := Gap(hcldr)
	tests := []struct {
		name   string
		latest *Session
		now    string
		cur    string // "" none, "latest" the latest session itself, else the slot's id
		next   string
	}{
		{"before the slot", nil, "2026-11-25T01:20:00Z", "", "2026-11-25T01:30:00Z"},
		{"slot without a row", nil, "2026-11-25T01:40:00Z", "hcldr-20261125T013000Z", "2026-12-02T01:30:00Z"},
		{"slot with its row", stored, "2026-11-25T01:40:00Z", "latest", "2026-12-02T01:30:00Z"},
		{"after the slot, in grace", stored, "2026-11-25T02:31:00Z", "", "2026-12-02T01:30:00Z"},
		{"burst within the gap", burst, burst.End.Add(gap - time.Minute).Format(time.RFC3339), "latest", "2026-11-25T01:30:00Z"},
		{"burst after the gap", burst, burst.End.Add(gap).Format(time.RFC3339), "", "2026-11-25T01:30:00Z"},
		{"between, across spring forward", nil, "2026-03-05T12:00:00Z", "", "2026-03-11T00:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, next := Status(hcldr, tt.latest, utc(tt.now))
			switch {
			case tt.cur == "" && cur != nil:
				t.Errorf("current %+v, want none", cur)
			case tt.cur == "latest" && cur != tt.latest:
				t.Errorf("current %+v, want the latest session", cur)
			case tt.cur != "" && tt.cur != "latest" && (cur == nil || cur.ID != tt.cur || cur.Kind != KindScheduled):
				t.Errorf("current %+v, want the slot %s", cur, tt.cur)
			}
			if !next.Equal(utc(tt.next)) {
				t.Errorf("next %s, want %s", next, tt.next)
			}
		})
	}
	double, _ := cfg.Lookup("double")
	if _, next := Status(double, nil, utc("2026-11-24T01:30:00Z")); !next.Equal(utc("2026-11-24T02:00:00Z")) {
		t.Errorf("next of back-to-back slots = %s, want the second slot", next)
	}
	open, _ := cfg.Lookup("open")
	if cur, next := Status(open, nil, utc("2026-11-24T01:30:00Z")); cur != nil || !next.IsZero() {
		t.Errorf("Status(unscheduled, no session) = %+v, %s; want nil, zero", cur, next)
	}
}

func TestDetect(t *testing.T) {
	gap := 30 * time.Minute
	times := []time.Time{
		utc("2026-11-26T18:55:00Z"), // third burst: 35 minutes after 18:20
		utc("2026-11-26T14:10:00Z"),
		utc("2026-11-26T14:29:00Z"),
		utc("2026-11-26T14:58:59Z"), // 29m59s later: same burst, next cell
		utc("2026-11-26T18:20:00Z"), // hours later
		utc("2026-11-26T14:10:00Z"), // same time twice
	}
	got := Detect("open", gap, times)
	want := []struct{ id, start, end string }{
		{"open-C20261126T140000Z", "2026-11-26T14:10:00Z", "2026-11-26T14:58:59Z"},
		{"open-C20261126T180000Z", "2026-11-26T18:20:00Z", "2026-11-26T18:20:00Z"},
		{"open-C20261126T183000Z", "2026-11-26T18:55:00Z", "2026-11-26T18:55:00Z"},
	}
	if len(got) != len(want) {
		t.Fatalf("Detect = %+v", got)
	}
	for i, w := range want {
		if got[i].ID != w.id || !got[i].Start.Equal(utc(w.start)) || !got[i].End.Equal(utc(w.end)) || got[i].Kind != KindDetected {
			t.Errorf("session %d = %+v, want %+v", i, got[i], w)
		}
	}
	// A silence of exactly the gap ends a session.
	if got := Detect("open", gap, []time.Time{utc("2026-11-26T14:00:00Z"), utc("2026-11-26T14:30:00Z")}); len(got) != 2 {
		t.Errorf("silence == gap: %d sessions, want 2", len(got))
	}
	if Detect("open", gap, nil) != nil {
		t.Error("Detect(nil) != nil")
	}
}

func TestGroupCellsAndSurvivor(t *testing.T) {
	gap := 30 * time.Minute
	t0 := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	span := func(cell string, first, last time.Duration) CellSpan {
		return CellSpan{Cell: cell, FirstAt: t0.Add(first), LastAt: t0.Add(last)}
	}
	for _, tt := range []struct {
		name   string
		spans  []CellSpan
		bursts [][]string
	}{
		{"one cell", []CellSpan{span("c0", 0, 10*time.Minute)}, [][]string{{"c0"}}},
		{"a silence shorter than the gap joins", []CellSpan{span("c1", 35*time.Minute, 50*time.Minute), span("c0", 0, 10*time.Minute)},
			[][]string{{"c0", "c1"}}},
		{"a silence of the gap splits", []CellSpan{span("c0", 0, 10*time.Minute), span("c1", 40*time.Minute, 50*time.Minute)},
			[][]string{{"c0"}, {"c1"}}},
		{"a bridge joins three", []CellSpan{span("c0", 0, 10*time.Minute), span("c2", 65*time.Minute, 70*time.Minute),
			span("c1", 38*time.Minute, 40*time.Minute)}, [][]string{{"c0", "c1", "c2"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := GroupCells(tt.spans, gap)
			if len(got) != len(tt.bursts) {
				t.Fatalf("bursts %+v, want %v", got, tt.bursts)
			}
			for i, b := range got {
				if strings.Join(b.Cells, ",") != strings.Join(tt.bursts[i], ",") {
					t.Errorf("burst %d: cells %v, want %v", i, b.Cells, tt.bursts[i])
				}
			}
		})
	}
	b := Burst{Cells: []string{"c0", "c1", "c2"}}
	for _, tt := range []struct {
		name     string
		recorded map[string]string
		id       string
		merged   []string
	}{
		{"new", nil, "c0", nil},
		{"grown forward", map[string]string{"c0": "c0", "c1": "c0"}, "c0", nil},
		{"bridged", map[string]string{"c0": "c0", "c2": "c2"}, "c0", []string{"c2"}},
		{"extended backwards", map[string]string{"c1": "c1", "c2": "c1"}, "c0", []string{"c1"}},
	} {
		id, merged := Survivor(b, func(c string) string { return tt.recorded[c] })
		if id != tt.id || strings.Join(merged, ",") != strings.Join(tt.merged, ",") {
			t.Errorf("%s: survivor %s merging %v, want %s merging %v", tt.name, id, merged, tt.id, tt.merged)
		}
	}
}
