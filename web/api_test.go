package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/web"
	"github.com/chatnight/chatnight/web/api"
	"github.com/chatnight/chatnight/web/readmodel"
)

// fetch GETs rawURL and fails the test unless it answers wantStatus.
func fetch(t testing.TB, rawURL string, wantStatus int) ([]byte, http.Header) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: HTTP %d %s, want %d", rawURL, resp.StatusCode, body, wantStatus)
	}
	return body, resp.Header
}

// getJSON GETs rawURL, wants wantStatus and decodes the body into v unless v is nil.
func getJSON(t testing.TB, rawURL string, wantStatus int, v any) http.Header {
	t.Helper()
	body, h := fetch(t, rawURL, wantStatus)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", rawURL, err, body)
		}
	}
	return h
}

// seedAPIChat stores two sessions of community id: an old one and one on now.
func seedAPIChat(t testing.TB, id string, now time.Time) (old, cur *chat) {
	old = newChat(id, id+"-old", now.Add(-7*24*time.Hour)).sessionRow("scheduled", time.Hour)
	old.post(id+":o1", "host", time.Minute, "Q1 Welcome back?").
		post(id+":o2", "ana", 2*time.Minute, "A1 Yes", replyTo(id+":o1", "host"))
	old.write(t)
	cur = newChat(id, id+"-cur", now.Add(-10*time.Minute)).sessionRow("scheduled", time.Hour)
	cur.post(id+":1", "host", 0, "Q1 What is leadership? #"+id).
		post(id+":2", "ana", time.Minute, "A1 Listening first", replyTo(id+":1", "host")).
		post(id+":3", "ben", 2*time.Minute, "A1 Serving @ana's team", replyTo(id+":1", "host"), mentions("ana")).
		post(id+":4", "ana", 3*time.Minute, "agreed @ben @carol", replyTo(id+":3", "ben"), mentions("ben", "carol")).
		post(id+":5", "host", 4*time.Minute, "Q2 What is next?").
		post(id+":6", "dan", 5*time.Minute, "A2 <b>bold</b> & more", replyTo(id+":5", "host"))
	cur.write(t)
	return old, cur
}

func TestAPI(t *testing.T) {
	const id = "apitest"
	now := time.Date(2026, 3, 3, 1, 40, 0, 0, time.UTC) // Monday 20:40 in New York: a slot is on
	seedAPIChat(t, id, now)
	ts := startServer(t, communities(t, id), func() time.Time { return now })

	t.Run("communities", func(t *testing.T) {
		var got []api.Community
		h := getJSON(t, ts.url+"/api/communities", 200, &got)
		if len(got) != 1 || got[0].ID != id || got[0].Current == nil || got[0].Current.ID != id+"-cur" {
			t.Fatalf("communities: %+v", got)
		}
		if got[0].NextStart == nil || !got[0].NextStart.After(now) {
			t.Errorf("next start %v, want after %v", got[0].NextStart, now)
		}
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
	})
	t.Run("sessions newest first", func(t *testing.T) {
		var got []readmodel.Session
		getJSON(t, ts.url+"/api/communities/"+id+"/sessions", 200, &got)
		if len(got) != 2 || got[0].ID != id+"-cur" || got[1].ID != id+"-old" {
			t.Fatalf("sessions: %+v", got)
		}
		if got[0].Posts != 6 || got[0].Participants != 4 || got[1].Posts != 2 {
			t.Errorf("counts: %+v", got)
		}
	})
	t.Run("transcript with marks", func(t *testing.T) {
		var got api.Transcript
		getJSON(t, ts.url+"/api/sessions/"+url.PathEscape(id+"-cur")+"/posts", 200, &got)
		if len(got.Posts) != 6 {
			t.Fatalf("%d posts, want 6", len(got.Posts))
		}
		p := got.Posts[2]
		if p.ID != id+":3" || len(p.Marks) != 1 || p.Marks[0].Kind != "answer" || p.Marks[0].Number != 1 || p.QuestionID != id+":1" {
			t.Errorf("answer: %+v", p)
		}
		if got.Posts[5].Text != "A2 <b>bold</b> & more" {
			t.Errorf("text changed: %q", got.Posts[5].Text)
		}
		if !got.Posts[0].IsHost || got.Posts[1].IsHost {
			t.Errorf("hosts: %v %v", got.Posts[0].IsHost, got.Posts[1].IsHost)
		}
	})
	t.Run("participants", func(t *testing.T) {
		var got []readmodel.Participant
		getJSON(t, ts.url+"/api/sessions/"+id+"-cur/participants", 200, &got)
		by := map[string]readmodel.Participant{}
		for _, p := range got {
			by[p.Handle] = p
		}
		want := map[string]struct {
			posts, replies, mentions uint64
			newcomer                 bool
		}{
			"host": {2, 3, 0, false}, "ana": {2, 0, 1, false}, "ben": {1, 1, 1, true}, "dan": {1, 0, 0, true},
		}
		for h, w := range want {
			p := by[h]
			if p.Posts != w.posts || p.RepliesReceived != w.replies || p.MentionsReceived != w.mentions || p.Newcomer != w.newcomer {
				t.Errorf("%s: %+v, want %+v", h, p, w)
			}
		}
	})
	t.Run("graph", func(t *testing.T) {
		var got readmodel.Graph
		getJSON(t, ts.url+"/api/sessions/"+id+"-cur/graph", 200, &got)
		nodes := map[string]readmodel.Node{}
		for _, n := range got.Nodes {
			nodes[n.ID] = n
		}
		if len(nodes) != 5 || nodes["sim:carol"].Handle != "carol" || nodes["sim:carol"].MentionsReceived != 1 {
			t.Errorf("nodes: %+v", got.Nodes)
		}
		kinds := map[string]uint64{}
		for _, e := range got.Edges {
			kinds[e.Kind] += e.Weight
		}
		if kinds["reply"] != 4 || kinds["mention"] != 3 {
			t.Errorf("edges by kind %v, want 4 replies and 3 mentions", kinds)
		}
	})
	t.Run("activity", func(t *testing.T) {
		var got []readmodel.Minute
		getJSON(t, ts.url+"/api/sessions/"+id+"-cur/activity", 200, &got)
		if len(got) != 6 || got[0].Posts != 1 || !got[0].Minute.Equal(now.Add(-10*time.Minute)) {
			t.Errorf("activity: %+v", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, path := range []string{"/api/sessions/nope/posts", "/api/communities/nope/sessions", "/api/nope", "/nope"} {
			resp, err := http.Get(ts.url + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("%s: HTTP %d, want 404", path, resp.StatusCode)
			}
		}
	})
}

func TestOperationalEndpoints(t *testing.T) {
	ts := startServer(t, communities(t, "optest"), nil)
	tests := []struct {
		path, wantBody string
		want           int
	}{
		{"/healthz", "ok", 200},
		{"/readyz", `"clickhouse":"ok"`, 200},
		{"/metrics", "chatnight_web_clients", 200},
		{"/", `<html`, 200},
		{"/assets/app.js", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(ts.url + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("HTTP %d %.200s, want %d with %q", resp.StatusCode, body, tt.want, tt.wantBody)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") ||
				!strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
			for _, h := range []string{"X-Content-Type-Options", "Referrer-Policy"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("no %s", h)
				}
			}
		})
	}
	// NATS down: readyz says which.
	ts.bus.NC.Close()
	var status map[string]string
	getJSON(t, ts.url+"/readyz", http.StatusServiceUnavailable, &status)
	if !strings.HasPrefix(status["nats"], "down") || status["clickhouse"] != "ok" {
		t.Errorf("readyz with NATS closed: %v", status)
	}
}

// TestReadyzListsSourcesOff: a source left out for a missing token shows in /readyz,
// which stays ready since the other sources run.
func TestReadyzListsSourcesOff(t *testing.T) {
	env := bustest.Start(t)
	off := map[string]string{"x": "not started: X_BEARER_TOKEN is unset"}
	srv, err := web.New(web.Config{SourcesOff: off}, web.Deps{Communities: communities(t, "readyoff"), JS: env.JS, NC: env.NC, CH: ch})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var status map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &status); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || status["source x"] != off["x"] {
		t.Errorf("readyz: HTTP %d %v", rec.Code, status)
	}
}
