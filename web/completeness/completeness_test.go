package completeness

import (
	"fmt"
	"testing"
	"time"
)

// TestWindows: overlapping missing windows merge (kinds and details joined), the
// covered windows are the rest of the session, and the estimate follows Method.
func TestWindows(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 11, 25, 1, 30+m, 0, 0, time.UTC) }
	missing := merge([]Window{
		{From: at(20), To: at(25), Kind: "page_cap"},
		{From: at(5), To: at(10), Kind: "reconnect", Detail: "reset"},
		{From: at(8), To: at(12), Kind: "outage", Detail: "502"},
	})
	covered := complement(at(0), at(60), missing)
	f := func(ws []Window) string {
		out := ""
		for _, w := range ws {
			out += fmt.Sprintf("[%s-%s %s %s]", w.From.Format("04"), w.To.Format("04"), w.Kind, w.Detail)
		}
		return out
	}
	if got, want := f(missing), "[35-42 reconnect,outage reset; 502][50-55 page_cap ]"; got != want {
		t.Errorf("missing %s, want %s", got, want)
	}
	if got, want := f(covered), "[30-35  ][42-50  ][55-30  ]"; got != want { // the last ends at 02:30
		t.Errorf("covered %s, want %s", got, want)
	}
	s := &Source{Posts: 96, Covered: covered, MissingSeconds: 12 * 60}
	estimate(s)
	// 96 posts in 48 covered minutes: 2 a minute, 24 in the 12 missing ones.
	if *s.EstimatedMissingPosts != 24 || *s.EstimatedMissingShare != 0.2 {
		t.Errorf("estimate %v posts, share %v; want 24 and 0.2", *s.EstimatedMissingPosts, *s.EstimatedMissingShare)
	}
	none := &Source{Covered: covered, MissingSeconds: 60}
	estimate(none)
	if none.EstimatedMissingShare != nil {
		t.Error("an estimate without posts to take a rate from")
	}
}
