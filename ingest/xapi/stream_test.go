package xapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// fakeRules is the app's rule set on the fake API.
type fakeRules struct {
	mu    sync.Mutex
	rules []Rule
	next  int
}

func (f *fakeRules) serve(w http.ResponseWriter, r *http.Request, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodGet {
		json.NewEncoder(w).Encode(map[string]any{"data": f.rules, "meta": map[string]any{"sent": "2024-04-19T16:00:00.000Z", "result_count": len(f.rules)}})
		return
	}
	var req struct {
		Add    []Rule `json:"add"`
		Delete *struct {
			IDs []string `json:"ids"`
		} `json:"delete"`
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	summary := map[string]int{}
	var added []Rule
	if req.Delete != nil {
		f.rules = slices.DeleteFunc(f.rules, func(r Rule) bool { return slices.Contains(req.Delete.IDs, r.ID) })
		summary["deleted"] = len(req.Delete.IDs)
	}
	for _, a := range req.Add {
		f.next++
		a.ID = "17800000000000009" + string(rune('0'+f.next/10)) + string(rune('0'+f.next%10))
		f.rules = append(f.rules, a)
		added = append(added, a)
		summary["created"]++
		summary["valid"]++
	}
	json.NewEncoder(w).Encode(map[string]any{"data": added, "meta": map[string]any{"sent": "2024-04-19T16:00:00.000Z", "summary": summary}})
}

func (f *fakeRules) list() []Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Rule(nil), f.rules...)
}

func streamFileLines(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile("testdata/stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))
}

func TestStreamRulesRoutingDisconnectAndBackfill(t *testing.T) {
	te := newTestEnv(t)
	rules := &fakeRules{next: 0, rules: []Rule{
		{ID: "1780000000000000900", Value: "#hitsm", Tag: "chatnight:hitsm"}, // kept: the id the stream file's rule-id-only line names
		{ID: "1780000000000000950", Value: "#oldchat", Tag: "chatnight:oldchat"},
		{ID: "1780000000000000951", Value: "#hcldr", Tag: "chatnight:hcldr"}, // query changed: stale
		{ID: "1780000000000000960", Value: "cats has:images", Tag: "someone-else"},
	}}
	lines := streamFileLines(t)
	conn2 := mustJSON(map[string]any{
		"data":           tw{ID: "1781000000000000010", Author: "9102", Text: "late #HCLDR"}.json(10),
		"includes":       map[string]any{"users": []map[string]any{{"id": "9102", "username": "gina_nurse", "name": "Gina"}}},
		"matching_rules": []map[string]string{{"id": "1780000000000000901", "tag": "chatnight:hcldr"}},
	})
	backfilled := make(chan struct{})
	var backfillOnce sync.Once
	var (
		streamConns int
		connMu      sync.Mutex
	)
	fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case rulesPath:
			body, _ := io.ReadAll(r.Body)
			rules.serve(w, r, string(body))
		case streamPath:
			connMu.Lock()
			streamConns++
			first := streamConns == 1
			connMu.Unlock()
			fl := w.(http.Flusher)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			if first {
				// The capture, keep-alives between messages, and a connection that
				// drops in the middle of the last message.
				for _, l := range lines {
					w.Write([]byte("\r\n"))
					w.Write(l)
					fl.Flush()
				}
				return
			}
			w.Write([]byte("\r\n"))
			fl.Flush()
			<-backfilled
			w.Write(conn2)
			w.Write([]byte("\r\n"))
			fl.Flush()
			<-r.Context().Done()
		case searchPath:
			q := r.URL.Query()
			if q.Get("since_id") != "1781000000000000007" {
				t.Errorf("backfill since_id = %q, want the newest stored stream tweet", q.Get("since_id"))
			}
			if strings.Contains(q.Get("query"), "#hitsm") {
				w.Write(page([]tw{{ID: "1781000000000000009", Author: "9101", Text: "missed while away #HITsm"}}, nil, ""))
			} else {
				w.Write(page(nil, nil, ""))
				backfillOnce.Do(func() { close(backfilled) })
			}
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	})
	s, err := NewStream(StreamConfig{
		ClientConfig: clientConfig(fx.URL, te.log, te.metrics),
		Communities:  []community.Community{hitsm, {ID: "hcldr", Hashtags: []string{"hcldr", "HealthLeaders"}}},
		Cursors:      te.cursors, Backfill: true, IdleTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runSource(t, s, te.em)
	waitFor(t, 10*time.Second, "the tweet of the second connection", func() bool {
		return cursor(t, te.cursors, StreamCursorKey) == "1781000000000000010"
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Rules: the foreign rule and the matching hitsm rule stay, the stale ones go,
	// hcldr's rule is added with its current query.
	got := map[string]string{}
	for _, r := range rules.list() {
		got[r.Tag] = r.Value
	}
	want := map[string]string{"chatnight:hitsm": "#hitsm", "chatnight:hcldr": "#hcldr OR #healthleaders", "someone-else": "cats has:images"}
	if !mapsEqual(got, want) {
		t.Errorf("rules after sync = %v, want %v", got, want)
	}
	if rq := fx.requestsTo(streamPath)[0].Query; rq.Get("expansions") != expansions || rq.Get("tweet.fields") != tweetFields || rq.Get("user.fields") != userFields {
		t.Errorf("stream request fields = %v", rq)
	}

	hitsmPosts := storedPosts(t, te.nats, "posts.hitsm.x")
	hcldrPosts := storedPosts(t, te.nats, "posts.hcldr.x")
	wantHITsm := []string{"x:1781000000000000001", "x:1781000000000000002", "x:1781000000000000003", "x:1781000000000000004", "x:1781000000000000005", "x:1781000000000000006", "x:1781000000000000007", "x:1781000000000000009"}
	if got := postIDs(hitsmPosts); !slices.Equal(got, wantHITsm) {
		t.Errorf("hitsm posts = %v, want %v", got, wantHITsm)
	}
	if got := postIDs(hcldrPosts); !slices.Equal(got, []string{"x:1781000000000000005", "x:1781000000000000010"}) {
		t.Errorf("hcldr posts = %v", got)
	}
	for _, p := range append(hitsmPosts, hcldrPosts...) {
		if p.Source != post.SourceX {
			t.Errorf("%s source = %q", p.ID, p.Source)
		}
	}
	// 7 good messages, 1 cut off: parked as invalid with its raw bytes.
	dl := deadLetters(t, te.nats, 1)
	if len(dl) != 1 || dl[0].Subject() != bus.DeadLetterSubject("ingest.x") ||
		!bytes.Equal(dl[0].Data(), bytes.TrimSpace(lines[len(lines)-1])) ||
		!strings.Contains(dl[0].Headers().Get(bus.HeaderError), "cut off") {
		for _, m := range dl {
			t.Errorf("dead letter on %s: %q %q", m.Subject(), m.Headers(), m.Data())
		}
	}
	if got := counterValue(te.metrics.Invalid.WithLabelValues("x")); got != 1 {
		t.Errorf("invalid count = %v, want 1", got)
	}
	if n := len(fx.requestsTo(streamPath)); n != 2 {
		t.Errorf("stream connections = %d, want 2 (one reconnect)", n)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestStreamFatalAndIdle(t *testing.T) {
	te := newTestEnv(t)
	// Rejected rules end Run with the API's reason.
	fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == rulesPath:
			w.Write([]byte(`{"meta":{"sent":"2024-04-19T16:00:00.000Z","result_count":0}}`))
		case r.URL.Path == rulesPath:
			w.Write([]byte(`{"meta":{"sent":"2024-04-19T16:00:00.000Z","summary":{"created":0,"not_created":1,"valid":0,"invalid":1}},"errors":[{"value":"#hitsm","details":["Rules must contain a non-stopword"],"title":"UnprocessableEntity","type":"https://api.twitter.com/2/problems/invalid-rules"}]}`))
		}
	})
	s, err := NewStream(StreamConfig{ClientConfig: clientConfig(fx.URL, te.log, te.metrics), Communities: []community.Community{hitsm}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx, te.em); err == nil || !strings.Contains(err.Error(), "UnprocessableEntity") {
		t.Fatalf("Run = %v, want the rejected rule", err)
	}

	// A connection that goes silent (no keep-alives) is dropped and reopened.
	var conns int
	var mu sync.Mutex
	fx2 := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case rulesPath:
			w.Write([]byte(`{"data":[{"id":"1","value":"#hitsm","tag":"chatnight:hitsm"}],"meta":{"sent":"x"}}`))
		case streamPath:
			mu.Lock()
			conns++
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	s2, err := NewStream(StreamConfig{ClientConfig: clientConfig(fx2.URL, te.log, te.metrics), Communities: []community.Community{hitsm}, IdleTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runSource(t, s2, te.em)
	waitFor(t, 10*time.Second, "a reconnect after silence", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return conns >= 2
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(fx2.requestsTo(rulesPath)) != 1 {
		t.Errorf("rules synced %d times, want once", len(fx2.requestsTo(rulesPath)))
	}
}
