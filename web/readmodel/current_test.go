package readmodel

import (
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
)

func TestStatusOf(t *testing.T) {
	cfg, err := community.Parse("test", []byte(`
communities:
  - id: hcldr
    hashtags: [hcldr]
    session_gap: 30m
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
`))
	if err != nil {
		t.Fatal(err)
	}
	cm := &cfg.Communities[0]
	ny, _ := time.LoadLocation("America/New_York")
	slot := time.Date(2026, 3, 3, 20, 30, 0, 0, ny) // a Tuesday
	at := func(d time.Duration) time.Time { return slot.Add(d) }
	stored := &Session{ID: "s-slot", Community: "hcldr", Start: slot.UTC(), End: at(time.Hour).UTC(), Kind: "scheduled"}
	detected := &Session{ID: "s-burst", Community: "hcldr", Start: at(-48 * time.Hour).UTC(), End: at(-47 * time.Hour).UTC(), Kind: "detected"}
	tests := []struct {
		name        string
		latest      *Session
		now         time.Time
		wantCurrent string // "" none, "-" a slot without a row
		wantNext    time.Time
	}{
		{"before the slot", nil, at(-time.Hour), "", slot},
		{"slot without posts yet", nil, at(10 * time.Minute), "-", slot.AddDate(0, 0, 7)},
		{"slot with its session", stored, at(10 * time.Minute), "s-slot", slot.AddDate(0, 0, 7)},
		{"after the slot", stored, at(61 * time.Minute), "", slot.AddDate(0, 0, 7)},
		{"detected session within the gap", detected, at(-47*time.Hour + 20*time.Minute), "s-burst", slot},
		{"detected session after the gap", detected, at(-47*time.Hour + 31*time.Minute), "", slot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := StatusOf(cm, tt.latest, tt.now)
			switch {
			case tt.wantCurrent == "" && st.Current != nil:
				t.Errorf("current %+v, want none", st.Current)
			case tt.wantCurrent == "-" && (st.Current == nil || st.Current.ID != "" || !st.Current.Start.Equal(slot)):
				t.Errorf("current %+v, want the slot without an id", st.Current)
			case tt.wantCurrent != "" && tt.wantCurrent != "-" && (st.Current == nil || st.Current.ID != tt.wantCurrent):
				t.Errorf("current %+v, want %s", st.Current, tt.wantCurrent)
			}
			if st.NextStart == nil || !st.NextStart.Equal(tt.wantNext) {
				t.Errorf("next start %v, want %v", st.NextStart, tt.wantNext)
			}
		})
	}
}
