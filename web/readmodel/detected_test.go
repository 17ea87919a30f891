package readmodel_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/derive/derivetest"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/web/readmodel"
)

// TestDetectedSession stores a scheduled session and an off-schedule chat over three
// cells (the question in the first, the answers in the third) and checks that the
// analytics see the chat as one detected session, never its cells.
func TestDetectedSession(t *testing.T) {
	const id = "andetect"
	env := chdbtest.Start(t)
	ctx := context.Background()
	cfg := testConfig(t, id)
	slot := time.Date(2026, 3, 4, 1, 30, 0, 0, time.UTC) // Tuesday 20:30 in New York
	at := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)   // a Thursday: off schedule
	mk := func(pid, author string, t time.Time, text, replyTo string) *post.Post {
		p := &post.Post{ID: "sim:" + pid, Source: post.SourceSim, Community: id, Author: post.Account{ID: "sim:" + author, Handle: author},
			CreatedAt: t, Text: text, Hashtags: []string{id}}
		if replyTo != "" {
			p.ReplyToID, p.ReplyToAuthorID = "sim:"+replyTo, "sim:"+id+"_host"
		}
		p.Normalize()
		return p
	}
	host := id + "_host"
	posts := []*post.Post{
		mk("s1", host, slot.Add(time.Minute), "Q1 Scheduled?", ""),
		mk("d1", host, at.Add(10*time.Minute), "Q1 Impromptu?", ""),
		mk("d2", "ana", at.Add(35*time.Minute), "thinking", ""),
		mk("d3", "ana", at.Add(62*time.Minute), "A1 here", "d1"),
		mk("d4", "ben", at.Add(70*time.Minute), "A1 me too", "d1"),
	}
	derivetest.Store(t, env.Conn, cfg, posts)
	an := readmodel.New(env.Conn)
	detectedID := sessions.CellID(id, at)

	latest, ok, err := an.LatestSession(ctx, id, at.Add(3*time.Hour))
	if err != nil || !ok || latest.ID != detectedID || latest.Kind != sessions.KindDetected || len(latest.Cells) != 3 {
		t.Fatalf("latest session %+v %v %v, want %s over 3 cells", latest, ok, err, detectedID)
	}
	byCell, ok, err := an.Session(ctx, sessions.CellID(id, at.Add(time.Hour)))
	if err != nil || !ok || byCell.ID != detectedID {
		t.Fatalf("session of the third cell: %+v %v %v, want %s", byCell, ok, err, detectedID)
	}
	st, err := an.SessionStats(ctx, latest, []string{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Posts != 4 || st.Counts.Participants != 3 || st.Replies != 2 ||
		len(st.Questions) != 1 || st.Questions[0].Answers != 2 || st.Questions[0].PostID != "sim:d1" {
		t.Errorf("stats: %d posts, %d participants, %d replies, questions %+v; want 4, 3, 2 and Q1 (sim:d1) with 2 answers",
			st.Posts, st.Counts.Participants, st.Replies, st.Questions)
	}
	cs, err := an.CommunityStats(ctx, id, slot.Add(-time.Hour), at.Add(3*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Sessions != 2 || cs.Series[0].Kind != sessions.KindScheduled || cs.Series[1].ID != detectedID || cs.Series[1].Posts != 4 {
		t.Errorf("series %+v, want the scheduled session then %s with 4 posts", cs.Series, detectedID)
	}
}
