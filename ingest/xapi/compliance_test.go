package xapi

import (
	"fmt"
	"testing"
	"time"
)

func TestParseCompliance(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ in, want string }{
		{`{"id":"1780400000000000007","action":"delete","created_at":"2024-04-17T00:31:00.000Z","redacted_at":"2024-05-01T10:00:00.000Z","reason":"deleted"}`,
			"x:1780400000000000007 x compliance file (delete) 2024-05-01T10:00:00Z true <nil>"},
		{`{"id":"1780400000000000008","action":"suspend"}`, "x:1780400000000000008 x compliance file (suspend) 2026-12-01T00:00:00Z true <nil>"},
		{`1780400000000000009`, "x:1780400000000000009 x compliance file 2026-12-01T00:00:00Z true <nil>"},
		{`{"id":"1780400000000000006","action":"scrub_geo"}`, "  0001-01-01T00:00:00Z false <nil>"},
		{`{"id":"x1","action":"delete"}`, `  0001-01-01T00:00:00Z false compliance record: "x1" is not a tweet id`},
	} {
		d, ok, err := ParseCompliance([]byte(tt.in), now)
		if got := fmt.Sprintf("%s %s %s %v %v", d.PostID, d.Reason, d.At.Format(time.RFC3339), ok, err); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}
