package web_test

import (
	"context"
	"encoding/csv"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

func get(t testing.TB, rawURL string) (string, http.Header) {
	t.Helper()
	body, h := fetch(t, rawURL, http.StatusOK)
	return string(body), h
}

// TestAnalyticsEndpointsAndOptOut serves a chat in which "zed" opted out, and checks
// every endpoint, export and the websocket (backfill and live) never show zed, while
// the stats still count zed's posts.
func TestAnalyticsEndpointsAndOptOut(t *testing.T) {
	const id = "anweb"
	const hidden = "zed"
	now := time.Date(2026, 3, 3, 1, 40, 0, 0, time.UTC) // a Tuesday slot is on
	cur := newChat(id, id+"-cur", now.Add(-10*time.Minute)).sessionRow("scheduled", time.Hour)
	cur.post(id+":1", "host", 0, "Q1 What is leadership? #"+id+" #nursing").
		post(id+":2", "ana", time.Minute, "A1 Listening first @zed", replyTo(id+":1", "host"), mentions(hidden)).
		post(id+":3", hidden, 2*time.Minute, "A1 Serving @ana's team", replyTo(id+":1", "host"), mentions("ana")).
		post(id+":4", "ana", 3*time.Minute, "agreed @Zed and @carol", replyTo(id+":3", hidden), mentions(hidden, "carol")).
		post(id+":5", "carol", 4*time.Minute, "A1 teams")
	cur.write(t)

	ctx := context.Background()
	list := optout.NewOptOuts(ch, nil)
	if err := list.Add(ctx, hidden); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Remove(context.Background(), hidden) })
	ts := startServer(t, communities(t, id), func() time.Time { return now })
	base := ts.url + "/api/sessions/" + id + "-cur"

	noZed := func(t *testing.T, what, body string) {
		t.Helper()
		if strings.Contains(strings.ToLower(body), hidden) {
			t.Errorf("%s shows the opted-out account:\n%.2000s", what, body)
		}
	}
	t.Run("session stats", func(t *testing.T) {
		var st struct {
			Posts        float64 `json:"posts"`
			Participants float64 `json:"participants"`
			Replies      float64 `json:"replies"`
			Hashtags     []struct {
				Value string `json:"value"`
			} `json:"hashtags"`
		}
		getJSON(t, base+"/stats", 200, &st)
		if st.Posts != 5 || st.Participants != 4 || st.Replies != 3 {
			t.Errorf("stats %+v, want 5 posts of 4 participants, 3 replies", st)
		}
		if len(st.Hashtags) != 0 {
			t.Errorf("co-occurring hashtags %v: the seeded posts carry only the community's", st.Hashtags)
		}
	})
	t.Run("community stats", func(t *testing.T) {
		var st readmodel.CommunityStats
		getJSON(t, ts.url+"/api/communities/"+id+"/stats?from=2026-01-01&to=2026-04-01", 200, &st)
		if st.Sessions != 1 || st.Posts != 5 {
			t.Errorf("community stats: %d sessions %d posts", st.Sessions, st.Posts)
		}
		getJSON(t, ts.url+"/api/communities/"+id+"/stats?from=yesterday", 400, nil)
		getJSON(t, ts.url+"/api/communities/nope/stats", 404, nil)
	})
	t.Run("nowhere", func(t *testing.T) {
		for _, path := range []string{
			"/api/communities", "/api/communities/" + id, "/api/communities/" + id + "/sessions",
			"/api/communities/" + id + "/stats", "/api/sessions/" + id + "-cur",
			"/api/sessions/" + id + "-cur/stats", "/api/sessions/" + id + "-cur/posts", "/api/sessions/" + id + "-cur/participants",
			"/api/sessions/" + id + "-cur/activity", "/api/sessions/" + id + "-cur/graph",
			"/api/sessions/" + id + "-cur/graph?format=gexf", "/api/sessions/" + id + "-cur/graph?format=graphml",
			"/api/sessions/" + id + "-cur/transcript", "/api/sessions/" + id + "-cur/transcript?format=csv",
			"/api/sessions/" + id + "-cur/transcript?format=md", "/api/sessions/" + id + "-cur/transcript?format=html",
		} {
			body, _ := get(t, ts.url+path)
			noZed(t, path, body)
		}
	})
	t.Run("transcript formats", func(t *testing.T) {
		body, h := get(t, base+"/transcript?format=csv")
		cr := csv.NewReader(strings.NewReader(body))
		cr.Comment = '#' // the manifest
		rows, err := cr.ReadAll()
		if err != nil || len(rows) != 5 { // header and the 4 posts of others
			t.Errorf("csv: %d rows, %v", len(rows), err)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(h.Get("Content-Disposition"), id+"-cur.csv") {
			t.Errorf("csv headers %v", h)
		}
		body, _ = get(t, base+"/transcript?format=md")
		if !strings.Contains(body, "@"+redact.PseudonymPrefix) {
			t.Errorf("md does not pseudonymize mentions:\n%s", body)
		}
		getJSON(t, base+"/transcript?format=pdf", 400, nil)
	})
	t.Run("graph formats", func(t *testing.T) {
		var g struct {
			Nodes []struct {
				ID string `json:"id"`
			} `json:"nodes"`
			Metrics struct {
				Nodes int `json:"nodes"`
			} `json:"metrics"`
		}
		getJSON(t, base+"/graph", 200, &g)
		pseudo := 0
		for _, n := range g.Nodes {
			if strings.HasPrefix(n.ID, redact.PseudonymPrefix) {
				pseudo++
			}
		}
		if pseudo != 1 || g.Metrics.Nodes != len(g.Nodes) {
			t.Errorf("graph: %d pseudonymized nodes (want 1), metrics of %d nodes for %d", pseudo, g.Metrics.Nodes, len(g.Nodes))
		}
		for _, f := range []string{"gexf", "graphml"} {
			body, _ := get(t, base+"/graph?format="+f)
			var doc struct{ XMLName xml.Name }
			if err := xml.Unmarshal([]byte(body), &doc); err != nil || doc.XMLName.Local != f {
				t.Errorf("%s: %v %v", f, doc.XMLName, err)
			}
		}
	})
	t.Run("websocket", func(t *testing.T) {
		h := http.Header{"Origin": {ts.url}}
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.url, "http")+"/ws?community="+id+"&session="+id+"-cur", h)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		seen := 0
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			noZed(t, "websocket backfill", string(data))
			if strings.Contains(string(data), `"type":"backfill"`) {
				seen += strings.Count(string(data), `"author_id"`)
				if strings.Contains(string(data), `"last":true`) {
					break
				}
			}
		}
		if seen != 4 {
			t.Errorf("backfill showed %d posts, want 4", seen)
		}
		live := newChat(id, id+"-cur", now.Add(-10*time.Minute))
		live.post(id+":6", hidden, 5*time.Minute, "live from zed").
			post(id+":7", "dan", 6*time.Minute, "hi @zed", mentions(hidden))
		live.commit(t, ts.bus)
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		noZed(t, "websocket live", string(data))
		if !strings.Contains(string(data), id+":7") || strings.Contains(string(data), id+":6") {
			t.Errorf("live frame: %s", data)
		}
	})
}
