package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatnight/chatnight/pipeline/derive/derivetest"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/web/api"
	"github.com/chatnight/chatnight/web/hub"
	"github.com/chatnight/chatnight/web/readmodel"
)

// simPost is a post of community id by author at t; replyTo is a post id or "".
func simPost(id, postID, author string, t time.Time, text, replyTo, replyToAuthor string) *post.Post {
	p := &post.Post{ID: "sim:" + postID, Source: post.SourceSim, Community: id, Kind: post.KindOriginal,
		Author: post.Account{ID: "sim:" + author, Handle: author}, CreatedAt: t, Text: text, Hashtags: []string{id}}
	if replyTo != "" {
		p.Kind, p.ReplyToID, p.ReplyToAuthorID = post.KindReply, "sim:"+replyTo, "sim:"+replyToAuthor
	}
	return p
}

// TestDetectedSessions stores, for a community with a Tuesday slot, one scheduled
// session and an off-schedule chat spanning three 30-minute cells (a question in the
// first, answers in the third), and checks that everything the viewer and the API show
// treats the chat as ONE detected session.
func TestDetectedSessions(t *testing.T) {
	const id = "dettest"
	cfg := communities(t, id)
	// The scheduled session: Tuesday 3 March 2026, 20:30 in New York.
	slot := time.Date(2026, 3, 4, 1, 30, 0, 0, time.UTC)
	// The off-schedule chat: Thursday 5 March, from 15:10 UTC, over cells 15:00, 15:30, 16:00.
	at := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	posts := []*post.Post{
		simPost(id, "s1", "host", slot.Add(time.Minute), "Q1 Scheduled question?", "", ""),
		simPost(id, "s2", "ana", slot.Add(3*time.Minute), "A1 Scheduled answer", "s1", "host"),

		simPost(id, "d1", "host", at.Add(10*time.Minute), "Q1 An impromptu question?", "", ""),
		simPost(id, "d2", "ana", at.Add(20*time.Minute), "thinking about it", "", ""),
		simPost(id, "d3", "ben", at.Add(35*time.Minute), "still thinking @ana", "d2", "ana"),
		simPost(id, "d4", "ana", at.Add(62*time.Minute), "A1 Late but here", "d1", "host"),
		simPost(id, "d5", "carol", at.Add(70*time.Minute), "A1 Me too", "d1", "host"),
	}
	posts[4].Mentions = []post.Account{{ID: "sim:ana", Handle: "ana"}}
	for _, p := range posts {
		p.Normalize()
	}
	derivetest.Store(t, ch, cfg, posts)

	gap := sessions.Gap(&cfg.Communities[0])
	detectedID := sessions.CellID(id, at)
	lastCell := sessions.CellID(id, at.Add(time.Hour))
	scheduledID := sessions.ScheduledID(id, slot)
	now := at.Add(75 * time.Minute) // the chat is still on: its last post is within the gap
	if gap != 30*time.Minute {
		t.Fatalf("session gap %v, this test assumes 30m", gap)
	}
	ts := startServer(t, cfg, func() time.Time { return now })

	t.Run("sessions list", func(t *testing.T) {
		var list []readmodel.Session
		getJSON(t, ts.url+"/api/communities/"+id+"/sessions", 200, &list)
		if len(list) != 2 {
			t.Fatalf("sessions %+v, want the detected and the scheduled one", list)
		}
		d, s := list[0], list[1]
		if d.ID != detectedID || d.Kind != "detected" || d.Posts != 5 || d.Participants != 4 || len(d.Cells) != 3 {
			t.Errorf("detected session %+v, want %s, 5 posts, 4 participants, 3 cells", d, detectedID)
		}
		if s.ID != scheduledID || s.Kind != "scheduled" || s.Posts != 2 {
			t.Errorf("scheduled session %+v, want %s with 2 posts", s, scheduledID)
		}
	})
	t.Run("community status", func(t *testing.T) {
		var c api.Community
		getJSON(t, ts.url+"/api/communities/"+id, 200, &c)
		if c.Current == nil || c.Current.ID != detectedID || c.Latest == nil || c.Latest.ID != detectedID {
			t.Errorf("current %+v latest %+v, want the detected session %s live", c.Current, c.Latest, detectedID)
		}
	})
	checkTranscript := func(t *testing.T, tr api.Transcript) {
		t.Helper()
		if tr.Session.ID != detectedID || len(tr.Posts) != 5 {
			t.Fatalf("transcript of %s with %d posts, want %s with 5", tr.Session.ID, len(tr.Posts), detectedID)
		}
		for _, p := range tr.Posts {
			if p.SessionID != detectedID {
				t.Errorf("post %s has session %q, want %q", p.ID, p.SessionID, detectedID)
			}
			if strings.HasPrefix(p.Text, "A1") && p.QuestionID != "sim:d1" {
				t.Errorf("answer %s links to question %q, want sim:d1", p.ID, p.QuestionID)
			}
		}
	}
	t.Run("transcript", func(t *testing.T) {
		var tr api.Transcript
		getJSON(t, ts.url+"/api/sessions/"+detectedID+"/posts", 200, &tr)
		checkTranscript(t, tr)
	})
	t.Run("a later cell resolves to its session", func(t *testing.T) {
		var tr api.Transcript
		getJSON(t, ts.url+"/api/sessions/"+lastCell+"/posts", 200, &tr)
		checkTranscript(t, tr)
		getJSON(t, ts.url+"/api/sessions/"+id+"-C20260101T000000Z", 404, nil)
	})
	t.Run("participants graph activity", func(t *testing.T) {
		var parts []readmodel.Participant
		getJSON(t, ts.url+"/api/sessions/"+detectedID+"/participants", 200, &parts)
		total := uint64(0)
		for _, p := range parts {
			total += p.Posts
		}
		if len(parts) != 4 || total != 5 {
			t.Errorf("leaderboard %+v, want 4 people with 5 posts", parts)
		}
		var g api.GraphResponse
		getJSON(t, ts.url+"/api/sessions/"+detectedID+"/graph", 200, &g)
		replies := uint64(0)
		for _, e := range g.Edges {
			if e.Kind == "reply" {
				replies += e.Weight
			}
		}
		if replies != 3 {
			t.Errorf("graph edges %+v, want 3 replies (both answers and the one in the second cell)", g.Edges)
		}
		var mins []readmodel.Minute
		getJSON(t, ts.url+"/api/sessions/"+detectedID+"/activity", 200, &mins)
		n := uint64(0)
		for _, m := range mins {
			n += m.Posts
		}
		if n != 5 {
			t.Errorf("activity counts %d posts, want 5", n)
		}
	})
	t.Run("stats", func(t *testing.T) {
		var st readmodel.SessionStats
		getJSON(t, ts.url+"/api/sessions/"+detectedID+"/stats", 200, &st)
		if st.Posts != 5 || st.Counts.Participants != 4 || len(st.Questions) != 1 || st.Questions[0].Answers != 2 {
			t.Errorf("stats: %d posts, %d participants, questions %+v; want 5, 4 and Q1 with 2 answers",
				st.Posts, st.Counts.Participants, st.Questions)
		}
		var cs readmodel.CommunityStats
		getJSON(t, ts.url+"/api/communities/"+id+"/stats?from=2026-03-01&to=2026-03-06", 200, &cs)
		var ids []string
		for _, p := range cs.Series {
			ids = append(ids, p.ID+"="+p.Kind)
		}
		if cs.Sessions != 2 || cs.Posts != 7 || strings.Join(ids, " ") != scheduledID+"=scheduled "+detectedID+"=detected" {
			t.Errorf("community stats: %d sessions %v, %d posts; want the scheduled and the detected session, 7 posts", cs.Sessions, ids, cs.Posts)
		}
	})
	t.Run("websocket backfill and live", func(t *testing.T) {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.url, "http")+"/ws?community="+id,
			http.Header{"Origin": {ts.url}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		var hello hub.Hello
		if err := ws.ReadJSON(&hello); err != nil {
			t.Fatal(err)
		}
		if hello.Session == nil || hello.Session.ID != detectedID || !hello.Current {
			t.Fatalf("hello %+v, want the live detected session %s", hello, detectedID)
		}
		got := 0
		for {
			var b hub.Backfill
			if err := ws.ReadJSON(&b); err != nil {
				t.Fatal(err)
			}
			for _, p := range b.Posts {
				got++
				if p.SessionID != detectedID {
					t.Errorf("backfilled post %s in session %q, want %q", p.ID, p.SessionID, detectedID)
				}
			}
			if b.Last {
				break
			}
		}
		if got != 5 {
			t.Errorf("backfill has %d posts, want 5", got)
		}
		// A live post in a new cell of the same burst arrives under the session's id.
		later := newChat(id, "", at.Add(90*time.Minute)).offSchedule(gap)
		later.post(id+":live", "dan", 0, "A1 From the fourth cell", replyTo("sim:d1", "host"))
		later.commit(t, ts.bus)
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var lv struct {
			Events []struct {
				Post struct {
					ID        string `json:"id"`
					SessionID string `json:"session_id"`
				} `json:"post"`
			} `json:"events"`
		}
		if err := json.Unmarshal(data, &lv); err != nil || len(lv.Events) != 1 || lv.Events[0].Post.SessionID != detectedID {
			t.Errorf("live frame %s (%v), want the post in session %s", data, err, detectedID)
		}
	})
}
