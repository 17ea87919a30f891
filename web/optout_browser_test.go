package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
)

// TestViewerCountsOptedOutAsTheAPIDoes: one participant opted out. The page hides
// their posts but counts them in the leaderboard under their pseudonym, with their
// posts, exactly as /api/sessions/{id}/participants and the stats do.
func TestViewerCountsOptedOutAsTheAPIDoes(t *testing.T) {
	const id, hidden = "broptout", "zed"
	ctx := context.Background()
	now := time.Now().UTC()
	past := newChat(id, id+"-s0", now.Add(-7*24*time.Hour)).sessionRow("scheduled", time.Hour)
	past.post(id+":1", "host", 0, "Q1 Who is here?").
		post(id+":2", hidden, time.Minute, "A1 me", replyTo(id+":1", "host")).
		post(id+":3", hidden, 2*time.Minute, "A1 me again", replyTo(id+":1", "host")).
		post(id+":4", hidden, 3*time.Minute, "and again").
		post(id+":5", "ana", 4*time.Minute, "A1 hello", replyTo(id+":1", "host"))
	past.write(t)
	list := optout.NewOptOuts(ch, nil)
	if err := list.Add(ctx, hidden); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Remove(context.Background(), hidden) })
	ts := startServer(t, communities(t, id), nil)

	var parts []readmodel.Participant
	getJSON(t, ts.url+"/api/sessions/"+id+"-s0/participants", 200, &parts)
	var st readmodel.SessionStats
	getJSON(t, ts.url+"/api/sessions/"+id+"-s0/stats", 200, &st)
	if len(parts) != 3 || st.Counts.Participants != 3 || parts[0].Posts != 3 || parts[0].Handle == hidden {
		t.Fatalf("the API: participants %+v, stats %d; want 3, the pseudonym first with 3 posts", parts, st.Counts.Participants)
	}

	p := openBrowser(t)
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/#community="+id+"&session="+id+"-s0"))
	p.waitJS("the session's posts", `document.querySelector('[data-post-id="broptout:5"]')`, 20*time.Second)
	p.waitJS("the leaderboard with the opted-out participant",
		fmt.Sprintf(`document.querySelector('#board .panel-note').textContent.startsWith('3 participants') &&
		 document.querySelector('#board tbody tr th').textContent.startsWith('@%s') &&
		 document.querySelector('#board tbody tr td:nth-child(3)').textContent === '3'`, parts[0].Handle), 10*time.Second)
	if n := eval[int](p, `document.querySelectorAll('[data-post-id="broptout:2"], [data-post-id="broptout:3"]').length`); n != 0 {
		t.Errorf("%d posts of the opted-out participant shown", n)
	}
	p.screenshot("optout-board", false)
	p.do(5*time.Second, emulate(390, 844, true, "light"))
	p.screenshot("optout-board-phone", false)
}
