package main

import (
	"strings"
	"testing"

	"github.com/chatnight/chatnight/pipeline/segments"
	"github.com/chatnight/chatnight/web/readmodel"
)

func TestWriteReportShowsPeopleAndSegments(t *testing.T) {
	s := &readmodel.SessionStats{
		TopParticipants: []readmodel.Account{
			{ID: "bluesky:did:plc:colin", Handle: "colin@hc.example", Count: 3,
				Accounts: []string{"bluesky:did:plc:colin", "mastodon:colin@hc.example"},
				Networks: map[string]uint64{"mastodon": 2, "bluesky": 1},
				Why:      []string{"verified Mastodon link https://colin.example.com is Bluesky handle @colin.example.com"},
				Segments: []segments.Assignment{{Segment: "health_it", Reason: `health_it: bio contains "health IT"`}}},
			{ID: "x:20", Handle: "bea", Count: 1},
		},
		Segments: []readmodel.SegmentCount{{Segment: "health_it", Label: "Health IT", Participants: 1, Posts: 3}},
	}
	var b strings.Builder
	writeReport(&b, s, nil, false)
	for _, want := range []string{
		"1  @colin@hc.example  3      bluesky 1, mastodon 2  health_it\n",
		"  @colin@hc.example is bluesky:did:plc:colin + mastodon:colin@hc.example: linked because verified Mastodon link https://colin.example.com is Bluesky handle @colin.example.com\n",
		"  @colin@hc.example health_it: bio contains \"health IT\"\n",
		"segment    participants  posts\nHealth IT  1             3\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
