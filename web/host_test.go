package web_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/web/host"
)

// seedWelcomeNights records six weekly nights of community id from first on:
//
//   - night 0: host, ana, ben and carol post for the first time; ana answers the host
//     within a minute and carol answers ana two minutes after ana's first post.
//   - night 1 (the night under test): nina, omar and pia are new. ana welcomes nina two
//     minutes after her first post (carol too, six minutes after); ben answers omar
//     only after twelve minutes; nobody answers pia. ben replies to a post that is not
//     stored.
//   - nights 2 to 5: nina comes back on night 2 and pia on night 4; omar never does.
func seedWelcomeNights(t testing.TB, id string, first time.Time) []*chat {
	t.Helper()
	week := 7 * 24 * time.Hour
	night := func(i int) *chat {
		return newChat(id, fmt.Sprintf("%s-n%d", id, i), first.Add(time.Duration(i)*week)).sessionRow("scheduled", time.Hour)
	}
	p := func(n int) string { return fmt.Sprintf("%s:%d", id, n) }
	n0 := night(0)
	n0.post(id+":a1", "host", 0, "Q1 Who is here tonight?").
		post(id+":a2", "ana", time.Minute, "A1 Me, as ever", replyTo(id+":a1", "host")).
		post(id+":a3", "ben", 2*time.Minute, "A1 Ben here", replyTo(id+":a1", "host")).
		post(id+":a4", "carol", 3*time.Minute, "@ana same", replyTo(id+":a2", "ana"))
	n1 := night(1)
	n1.post(p(1), "host", 0, "Q1 What brought you here tonight? #"+id).
		post(p(2), "ana", time.Minute, "A1 Same as every week", replyTo(p(1), "host")).
		post(p(3), "nina", 2*time.Minute, "A1 First time here! I'm a nurse", replyTo(p(1), "host")).
		post(p(4), "omar", 3*time.Minute, "Hello everyone, first chat for me").
		post(p(5), "ana", 4*time.Minute, "@nina welcome! great to have you", replyTo(p(3), "nina")).
		post(p(6), "nina", 5*time.Minute, "thanks @ana!", replyTo(p(5), "ana")).
		post(p(7), "pia", 5*time.Minute, "A1 Lurker turned poster", replyTo(p(1), "host")).
		post(p(8), "carol", 8*time.Minute, "@nina glad you came", replyTo(p(3), "nina")).
		post(p(9), "host", 10*time.Minute, "Q2 What would you change?").
		post(p(10), "ben", 11*time.Minute, "A2 Fewer meetings", replyTo(p(9), "host")).
		post(p(11), "host", 12*time.Minute, "@ben say more?", replyTo(p(10), "ben")).
		post(p(12), "ben", 15*time.Minute, "@omar hi omar!", replyTo(p(4), "omar")).
		post(p(13), "ben", 20*time.Minute, "replying to an old thread", replyTo(id+":gone", "ghost")).
		post(p(14), "ana", 23*time.Minute, "A2 More listening", replyTo(p(9), "host"))
	n2 := night(2)
	n2.post(id+":c1", "nina", time.Minute, "back again").post(id+":c2", "ana", 2*time.Minute, "hi all")
	n3 := night(3)
	n3.post(id+":d1", "ben", time.Minute, "hello")
	n4 := night(4)
	n4.post(id+":e1", "pia", time.Minute, "back after a while")
	n5 := night(5)
	n5.post(id+":f1", "ana", time.Minute, "last one")
	nights := []*chat{n0, n1, n2, n3, n4, n5}
	for _, c := range nights {
		c.write(t)
	}
	return nights
}

func TestHostAndWelcomeAPI(t *testing.T) {
	const id = "welcome"
	first := time.Date(2026, 1, 7, 1, 30, 0, 0, time.UTC)
	nights := seedWelcomeNights(t, id, first)
	now := nights[1].start.Add(25 * time.Minute) // night 1 is on
	ts := startServer(t, communities(t, id), func() time.Time { return now })

	t.Run("host", func(t *testing.T) {
		var v host.View
		getJSON(t, ts.url+"/api/sessions/"+id+"-n1/host", 200, &v)
		if v.WaitingAfter != 180 || !v.At.Equal(now) {
			t.Errorf("waiting_after_s %v at %v, want 180 at %v", v.WaitingAfter, v.At, now)
		}
		var qs []string
		for _, q := range v.Questions {
			var who []string
			for _, a := range q.Answerers {
				who = append(who, a.Handle)
			}
			qs = append(qs, fmt.Sprintf("Q%d %s answers=%d by=%s", q.Number, q.PostID, q.Answers, strings.Join(who, ",")))
		}
		if want := []string{"Q2 welcome:9 answers=2 by=ben,ana", "Q1 welcome:1 answers=3 by=ana,nina,pia"}; fmt.Sprint(qs) != fmt.Sprint(want) {
			t.Errorf("questions\n got %q\nwant %q", qs, want)
		}
		var ws []string
		for _, w := range v.Waiting {
			ws = append(ws, fmt.Sprintf("%s %s new=%v %ds", w.PostID, w.AuthorID, w.Newcomer, w.WaitingS))
		}
		want := []string{
			"welcome:6 sim:nina new=true 1200s", "welcome:7 sim:pia new=true 1200s",
			"welcome:2 sim:ana new=false 1440s", "welcome:8 sim:carol new=false 1020s",
			"welcome:12 sim:ben new=false 600s", "welcome:13 sim:ben new=false 300s",
		}
		if fmt.Sprint(ws) != fmt.Sprint(want) {
			t.Errorf("waiting\n got %q\nwant %q", ws, want)
		}
		var ns []string
		for _, n := range v.Newcomers {
			m := "null"
			if n.MinutesToWelcome != nil {
				m = fmt.Sprintf("%.1f", *n.MinutesToWelcome)
			}
			ns = append(ns, fmt.Sprintf("%s %s by=%q after=%s", n.AuthorID, n.FirstPostID, n.WelcomedBy, m))
		}
		if want := []string{`sim:nina welcome:3 by="ana" after=2.0`, `sim:omar welcome:4 by="ben" after=12.0`, `sim:pia welcome:7 by="" after=null`}; fmt.Sprint(ns) != fmt.Sprint(want) {
			t.Errorf("newcomers\n got %q\nwant %q", ns, want)
		}
	})

	t.Run("session welcome", func(t *testing.T) {
		var st struct {
			Newcomers uint64       `json:"newcomers"`
			Welcome   host.Welcome `json:"welcome"`
		}
		getJSON(t, ts.url+"/api/sessions/"+id+"-n1/stats", 200, &st)
		if got, want := describe(st.Welcome), "newcomers=3 welcomed=1 share=0.3333 median=2.00 welcomers=[ana:1 carol:1] "+
			"returned=1/1 later=4 rates=1.0000/0.5000 ratio=2.0000 window=10"; got != want {
			t.Errorf("welcome\n got %s\nwant %s", got, want)
		}
		if st.Newcomers != uint64(st.Welcome.Newcomers) {
			t.Errorf("stats count %d newcomers, welcome %d: one rule should give one number", st.Newcomers, st.Welcome.Newcomers)
		}
	})

	t.Run("series", func(t *testing.T) {
		var s host.Series
		q := url.Values{"from": {first.Add(-time.Hour).Format(time.RFC3339)}, "to": {first.Add(36 * 24 * time.Hour).Format(time.RFC3339)}}
		getJSON(t, ts.url+"/api/communities/"+id+"/welcome?"+q.Encode(), 200, &s)
		var per []string
		for _, p := range s.Sessions {
			per = append(per, fmt.Sprintf("%s:%d/%d", p.Session.ID, p.Welcomed, p.Newcomers))
		}
		if want := []string{"welcome-n0:2/4", "welcome-n1:1/3", "welcome-n2:0/0", "welcome-n3:0/0", "welcome-n4:0/0", "welcome-n5:0/0"}; fmt.Sprint(per) != fmt.Sprint(want) {
			t.Errorf("series %q, want %q", per, want)
		}
		// Night 0: host (answered by ana after 1 minute, ben after 2) and ana (by carol
		// after 2) are welcomed; ben and carol are not. All four came back, nina and pia too.
		if got, want := describe(s.Total), "newcomers=7 welcomed=3 share=0.4286 median=2.00 welcomers=[ana:2 carol:2 ben:1] "+
			"returned=3/3 later=0 rates=1.0000/0.7500 ratio=1.3333 window=10"; got != want {
			t.Errorf("total\n got %s\nwant %s", got, want)
		}
	})

	t.Run("parents", func(t *testing.T) {
		var got []host.Parent
		getJSON(t, ts.url+"/api/communities/"+id+"/posts?ids="+url.QueryEscape(id+":3,"+id+":gone"), 200, &got)
		if len(got) != 1 || got[0].ID != id+":3" || got[0].Handle != "nina" || got[0].Text != "A1 First time here! I'm a nurse" {
			t.Errorf("parents %+v, want only welcome:3 by nina (welcome:gone is not stored)", got)
		}
		getJSON(t, ts.url+"/api/communities/"+id+"/posts?ids=", 400, nil)
	})
}

func describe(w host.Welcome) string {
	f := func(p *float64, format string) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf(format, *p)
	}
	var ws []string
	for _, x := range w.Welcomers {
		ws = append(ws, fmt.Sprintf("%s:%d", x.Handle, x.Newcomers))
	}
	return fmt.Sprintf("newcomers=%d welcomed=%d share=%s median=%s welcomers=%v returned=%d/%d later=%d rates=%s/%s ratio=%s window=%g",
		w.Newcomers, w.Welcomed, f(w.WelcomedShare, "%.4f"), f(w.MedianMinutesToWelcome, "%.2f"), ws,
		w.ReturnedWelcomed, w.ReturnedUnwelcomed, w.LaterSessions, f(w.ReturnRateWelcomed, "%.4f"),
		f(w.ReturnRateUnwelcomed, "%.4f"), f(w.ReturnRatio, "%.4f"), w.WindowMinutes)
}
