package community

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultsAndExample(t *testing.T) {
	cfg := Defaults()
	for _, id := range []string{"hcldr", "hitsm"} {
		if _, ok := cfg.Lookup(id); !ok {
			t.Errorf("built-in communities lack %q", id)
		}
	}
	ex, err := Load("../../deploy/communities.example.yaml")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	hcldr, ok := ex.Lookup("hcldr")
	if !ok || len(hcldr.Schedule) == 0 {
		t.Fatalf("example lacks a scheduled hcldr: %+v", ex.IDs())
	}
	s := hcldr.Schedule[0]
	if h, m := s.Clock(); s.Day() != time.Tuesday || h != 20 || m != 30 || s.Location().String() != "America/New_York" || s.Duration != time.Hour {
		t.Errorf("hcldr slot = %v %02d:%02d %v %v", s.Day(), h, m, s.Location(), s.Duration)
	}
	if len(ex.People) != 1 || len(ex.People[0].Accounts) != 3 {
		t.Errorf("example people: %+v", ex.People)
	}
	if got := hcldr.SegmentRules().Assign("Healthcare leader and ICU RN"); len(got) != 2 || got[0].Segment != "nurse" || got[1].Segment != "leader" {
		t.Errorf("example hcldr segments: %+v", got)
	}
	if hcldr.WaitingAfter != 2*time.Minute || hcldr.WelcomeWindow != 15*time.Minute {
		t.Errorf("hcldr waiting_after %v, welcome_window %v; want the example's 2m and 15m", hcldr.WaitingAfter, hcldr.WelcomeWindow)
	}
	if d, _ := cfg.Lookup("hcldr"); d.WaitingAfter != DefaultWaitingAfter || d.WelcomeWindow != DefaultWelcomeWindow {
		t.Errorf("defaults: waiting_after %v, welcome_window %v", d.WaitingAfter, d.WelcomeWindow)
	}
	if len(ex.Communities) < 4 {
		t.Errorf("example has %d communities, want a few more than hcldr and hitsm", len(ex.Communities))
	}
}

func TestParseErrorsNameFileLineAndField(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"bad timezone", `communities:
  - id: hcldr
    hashtags: [hcldr]
    schedule:
      - weekday: tuesday
        start: "20:30"
        timezone: America/Nowhere
        duration: 60m
`, []string{"bad.yaml:7:", "communities[0].schedule[0].timezone", "America/Nowhere"}},
		{"bad weekday", `communities:
  - id: hcldr
    hashtags: [hcldr]
    schedule:
      - {weekday: funday, start: "20:30", timezone: UTC, duration: 60m}
`, []string{"bad.yaml:5:", "schedule[0].weekday", "funday"}},
		{"bad id", `communities:
  - id: "HC LDR"
    hashtags: [hcldr]
`, []string{"bad.yaml:2:", "communities[0].id"}},
		{"no hashtags", `communities:
  - id: hcldr
    name: x
`, []string{"bad.yaml:2:", "communities[0].hashtags"}},
		{"unknown field", `communities:
  - id: hcldr
    hashtagz: [hcldr]
`, []string{"bad.yaml:", "hashtagz"}},
		{"duplicate", `communities:
  - id: hcldr
    hashtags: [a]
  - id: hcldr
    hashtags: [b]
`, []string{"bad.yaml:4:", "communities[1].id", "twice"}},
		{"bad duration", `communities:
  - id: hcldr
    hashtags: [hcldr]
    schedule:
      - {weekday: tue, start: "20:30", timezone: UTC, duration: 0s}
`, []string{"bad.yaml:5:", "duration"}},
		{"bad host network", `communities:
  - id: hcldr
    hashtags: [hcldr]
    hosts:
      myspace: [tom]
`, []string{"bad.yaml:5:", "hosts.myspace"}},
		{"negative waiting_after", `communities:
  - id: hcldr
    hashtags: [hcldr]
    waiting_after: -3m
`, []string{"bad.yaml:4:", "communities[0].waiting_after"}},
		{"syntax", "communities: [\n", []string{"bad.yaml:"}},
		{"person of one account", `people:
  - name: Ana
    accounts: ["x:ana"]
communities:
  - id: hcldr
    hashtags: [hcldr]
`, []string{"bad.yaml:3:", "people[0].accounts", "at least two"}},
		{"person account without network", `people:
  - name: Ana
    accounts: ["x:ana", "ana@nurses.example"]
communities:
  - id: hcldr
    hashtags: [hcldr]
`, []string{"bad.yaml:", "people[0].accounts[1]", "network:handle"}},
		{"bad segment override", `communities:
  - id: hcldr
    hashtags: [hcldr]
    segments:
      - {name: astronaut, disabled: true}
`, []string{"bad.yaml:5:", "communities[0].segments", "astronaut"}},
		{"bad segment pattern", `communities:
  - id: hcldr
    hashtags: [hcldr]
    segments:
      - {name: icu, patterns: ["("]}
`, []string{"bad.yaml:5:", "communities[0].segments", "icu"}},
		{"missing segment rules", `segment_rules: nowhere.yaml
communities:
  - id: hcldr
    hashtags: [hcldr]
`, []string{"bad.yaml:1:", "segment_rules", "nowhere.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestSlotAcrossDST(t *testing.T) {
	cfg, err := Parse("t", []byte(`communities:
  - id: hcldr
    hashtags: ["#HCLDR", hcldr_alias]
    schedule: [{weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &cfg.Communities[0].Schedule[0]
	tests := []struct {
		now  string
		want string // UTC start of the latest slot at or before now
	}{
		// 2026-03-08 US spring forward: EST (-5) before, EDT (-4) after.
		{"2026-03-04T12:00:00Z", "2026-03-04T01:30:00Z"}, // Tue 3 Mar 20:30 EST
		{"2026-03-11T00:29:00Z", "2026-03-04T01:30:00Z"}, // a minute before the next
		{"2026-03-11T00:30:00Z", "2026-03-11T00:30:00Z"}, // Tue 10 Mar 20:30 EDT
		// 2026-11-01 fall back.
		{"2026-11-04T01:30:00Z", "2026-11-04T01:30:00Z"}, // Tue 3 Nov 20:30 EST
		{"2026-11-04T01:29:00Z", "2026-10-28T00:30:00Z"}, // Tue 27 Oct 20:30 EDT
	}
	for _, tt := range tests {
		now, _ := time.Parse(time.RFC3339, tt.now)
		got := s.StartOnOrBefore(now).UTC().Format(time.RFC3339)
		if got != tt.want {
			t.Errorf("StartOnOrBefore(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
	now, _ := time.Parse(time.RFC3339, "2026-03-04T12:00:00Z")
	if got := s.NextStartAfter(now).UTC().Format(time.RFC3339); got != "2026-03-11T00:30:00Z" {
		t.Errorf("NextStartAfter = %s", got)
	}
	cm := &cfg.Communities[0]
	if !cm.MatchesTags([]string{"other", "hcldr"}) || !cm.MatchesTags([]string{"hcldr_alias"}) || cm.MatchesTags([]string{"hitsm"}) {
		t.Error("MatchesTags folds '#' and case and accepts aliases")
	}
}

func TestIsHost(t *testing.T) {
	cm := Community{Hosts: map[string][]string{"x": {"@HCLDR"}, "mastodon": {"hcldr@mastodon.social"}}}
	if !cm.IsHost("x", "hcldr") || !cm.IsHost("mastodon", "HCLDR@mastodon.social") || cm.IsHost("bluesky", "hcldr") {
		t.Error("IsHost compares handles per network, case-insensitively")
	}
	if !cm.HasHosts() || (&Community{}).HasHosts() {
		t.Error("HasHosts")
	}
}
