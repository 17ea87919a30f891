package readmodel_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive/derivetest"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/segments"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// peopleNight is a chat night on three networks:
//   - Colin posts on Bluesky (colin.example.com) and on Mastodon, whose profile has a
//     verified link to https://colin.example.com: one person;
//   - Ana posts on X and on Mastodon; the communities file declares her: one person;
//   - Bea posts on X and on Bluesky with the same name and nothing linking the
//     accounts: two participants.
func peopleNight(t *testing.T) (*community.Config, []*post.Post) {
	cfg, err := community.Parse("test", []byte(`
people:
  - name: Ana
    accounts: ["x:ana_rn", "mastodon:ana@nurses.example"]
communities:
  - id: ppltest
    hashtags: [ppltest]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
`))
	if err != nil {
		t.Fatal(err)
	}
	colinB := post.Account{ID: "bluesky:did:plc:colin", Handle: "colin.example.com", Followers: 100}
	colinM := post.Account{ID: "mastodon:colin@hc.example", Handle: "colin@hc.example", Followers: 50,
		Bio: "Health IT consultant", VerifiedLinks: []string{"https://colin.example.com"}}
	anaX := post.Account{ID: "x:11", Handle: "ana_rn", Followers: 10, Bio: "ICU RN. Views mine."}
	anaM := post.Account{ID: "mastodon:ana@nurses.example", Handle: "ana@nurses.example", Followers: 5}
	beaX := post.Account{ID: "x:20", Handle: "bea", Name: "Bea", Followers: 1}
	beaB := post.Account{ID: "bluesky:did:plc:bea", Handle: "bea.bsky.social", Name: "Bea", Followers: 2}
	at := time.Date(2026, 3, 4, 1, 30, 0, 0, time.UTC) // a Tuesday 20:30 in New York
	mk := func(n int, author post.Account, id string, text string) *post.Post {
		return &post.Post{ID: id, Source: post.Source(strings.SplitN(author.ID, ":", 2)[0]), Community: "ppltest",
			Author: author, CreatedAt: at.Add(time.Duration(n) * time.Minute), Text: text, Hashtags: []string{"ppltest"}}
	}
	p1 := mk(1, colinB, "bluesky:at://colin/1", "Welcome to #ppltest")
	p2 := mk(2, colinM, "mastodon:https://hc.example/1", "Hello from Mastodon #ppltest")
	p3 := mk(3, beaX, "x:3", "@colin hi")
	p3.ReplyToID, p3.ReplyToAuthorID = p1.ID, colinB.ID
	p4 := mk(4, beaB, "bluesky:at://bea/4", "hi @colin, and @ana_rn")
	p4.ReplyToID, p4.ReplyToAuthorID = p2.ID, colinM.ID
	p4.Mentions = []post.Account{{ID: anaX.ID, Handle: anaX.Handle}}
	p5 := mk(5, anaX, "x:5", "Great chat @colin")
	p5.Mentions = []post.Account{{ID: colinM.ID, Handle: colinM.Handle}}
	p6 := mk(6, anaM, "mastodon:https://nurses.example/6", "@bea agreed")
	p6.ReplyToID, p6.ReplyToAuthorID = p3.ID, beaX.ID
	p7 := mk(7, colinM, "mastodon:https://hc.example/7", "and from my other account")
	p7.ReplyToID, p7.ReplyToAuthorID = p1.ID, colinB.ID
	posts := []*post.Post{p1, p2, p3, p4, p5, p6, p7}
	for _, p := range posts {
		p.Normalize()
	}
	return cfg, posts
}

func TestPeopleInParticipantsAndGraph(t *testing.T) {
	env := chdbtest.Start(t)
	ctx := context.Background()
	cfg, posts := peopleNight(t)
	// Two batches, the second delivered twice: nothing changes.
	derivetest.Store(t, env.Conn, cfg, posts[:3], posts[3:], posts[3:])
	an := readmodel.New(env.Conn)
	an.People = cfg.People
	sess, ok, err := an.Session(ctx, "ppltest-20260304T013000Z")
	if err != nil || !ok {
		t.Fatalf("session: %v %v", ok, err)
	}
	st, err := an.SessionStats(ctx, sess, []string{"ppltest"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts.Participants != 4 || st.Newcomers != 4 || st.Posts != 7 || st.PotentialReach != 168 {
		t.Errorf("people: participants %d newcomers %d posts %d reach %d; want 4, 4, 7, 168",
			st.Counts.Participants, st.Newcomers, st.Posts, st.PotentialReach)
	}
	wantTop := []readmodel.Account{
		{ID: "bluesky:did:plc:colin", Handle: "colin@hc.example", Count: 3, Newcomer: true,
			Accounts: []string{"bluesky:did:plc:colin", "mastodon:colin@hc.example"},
			Networks: map[string]uint64{"bluesky": 1, "mastodon": 2},
			Why:      []string{"verified Mastodon link https://colin.example.com is Bluesky handle @colin.example.com"},
			Segments: []segments.Assignment{{Segment: "health_it", Reason: `health_it: bio contains "health IT"`},
				{Segment: "consultant", Reason: `consultant: bio contains "consultant"`}}},
		{ID: "mastodon:ana@nurses.example", Handle: "ana@nurses.example", Count: 2, Newcomer: true,
			Accounts: []string{"mastodon:ana@nurses.example", "x:11"},
			Networks: map[string]uint64{"mastodon": 1, "x": 1},
			Why:      []string{"declared in the communities file as Ana"},
			Segments: []segments.Assignment{{Segment: "nurse", Reason: `nurse: bio contains "RN"`}}},
		{ID: "bluesky:did:plc:bea", Handle: "bea.bsky.social", Count: 1, Newcomer: true},
		{ID: "x:20", Handle: "bea", Count: 1, Newcomer: true},
	}
	if !reflect.DeepEqual(st.TopParticipants, wantTop) {
		t.Errorf("top participants:\n got %+v\nwant %+v", st.TopParticipants, wantTop)
	}
	wantSegments := []readmodel.SegmentCount{
		{Segment: "nurse", Label: "Nurse", Participants: 1, Posts: 2},
		{Segment: "health_it", Label: "Health IT", Participants: 1, Posts: 3},
		{Segment: "consultant", Label: "Consultant", Participants: 1, Posts: 3},
	}
	if !reflect.DeepEqual(st.Segments, wantSegments) {
		t.Errorf("segments:\n got %+v\nwant %+v", st.Segments, wantSegments)
	}
	edges, err := an.Edges(ctx, []readmodel.Session{sess})
	if err != nil {
		t.Fatal(err)
	}
	wantEdges := []readmodel.KindEdge{
		{Src: "bluesky:did:plc:bea", Dst: "bluesky:did:plc:colin", Kind: "reply", Weight: 1},
		{Src: "bluesky:did:plc:bea", Dst: "mastodon:ana@nurses.example", Kind: "mention", Weight: 1},
		{Src: "mastodon:ana@nurses.example", Dst: "x:20", Kind: "reply", Weight: 1},
		{Src: "mastodon:ana@nurses.example", Dst: "bluesky:did:plc:colin", Kind: "mention", Weight: 1},
		{Src: "x:20", Dst: "bluesky:did:plc:colin", Kind: "reply", Weight: 1},
	}
	if !reflect.DeepEqual(edges, wantEdges) {
		t.Errorf("person graph:\n got %+v\nwant %+v", edges, wantEdges)
	}
	if st.Network.Nodes != 4 || st.Network.Edges != 5 {
		t.Errorf("network of %d nodes, %d edges; want 4 people, 5 edges", st.Network.Nodes, st.Network.Edges)
	}

	// Per account, every account is its own participant.
	st, err = an.Accounts().SessionStats(ctx, sess, []string{"ppltest"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts.Participants != 6 || st.Network.Nodes != 6 {
		t.Errorf("per account: %d participants, %d nodes; want 6, 6", st.Counts.Participants, st.Network.Nodes)
	}

	// An opted-out account hides its whole person, with no segment.
	red := redact.NewRedactor("salt", []string{"x:11"}, nil)
	st, err = an.SessionStats(ctx, sess, []string{"ppltest"}, red)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.TopParticipants[1]; got.ID != red.Pseudonym("mastodon:ana@nurses.example") || got.Segments != nil || got.Accounts != nil || got.Why != nil {
		t.Errorf("opted-out person shown as %+v", got)
	}
	if len(st.Segments) != 2 || st.Segments[0].Segment != "health_it" {
		t.Errorf("segments with Ana opted out: %+v", st.Segments)
	}

	// A pseudonymised export: every person and account under its pseudonym, segments
	// kept, and no why (it names handles and sites).
	all := redact.NewRedactor("salt", nil, nil).Pseudonymize(nil)
	st, err = an.SessionStats(ctx, sess, []string{"ppltest"}, all)
	if err != nil {
		t.Fatal(err)
	}
	colin := st.TopParticipants[0]
	want := readmodel.Account{ID: all.Pseudonym("bluesky:did:plc:colin"), Handle: all.Pseudonym("bluesky:did:plc:colin"), Count: 3, Newcomer: true,
		Accounts: []string{all.Pseudonym("bluesky:did:plc:colin"), all.Pseudonym("mastodon:colin@hc.example")},
		Networks: map[string]uint64{"bluesky": 1, "mastodon": 2}, Segments: wantTop[0].Segments}
	if !reflect.DeepEqual(colin, want) {
		t.Errorf("pseudonymised person:\n got %+v\nwant %+v", colin, want)
	}
}
