package xapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// testToken is the bearer token the fake API expects; it must never show in logs or errors.
const testToken = "AAAAAAAAAAAAAAAAAAAAAtestTokenDoNotLeak%2Fabc123"

const tokenEnv = "CHATNIGHT_TEST_X_BEARER"

// fakeX speaks enough of the X API v2 wire format for the sources: it checks the
// bearer token, records every request and hands each to the test's handler.
type fakeX struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	Method string
	Path   string
	Query  url.Values
	Body   string
	At     time.Time
}

func newFakeX(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *fakeX {
	t.Helper()
	f := &fakeX{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
		f.mu.Lock()
		f.reqs = append(f.reqs, seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body.String(), At: time.Now()})
		n := len(f.reqs)
		f.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeX) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.reqs...)
}

func (f *fakeX) requestsTo(path string) []seenRequest {
	var out []seenRequest
	for _, r := range f.requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// testLog captures slog output and fails the test if the bearer token ever shows in it.
func testLog(t *testing.T) (*slog.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if strings.Contains(buf.String(), testToken) {
			t.Errorf("bearer token leaked into the log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

type syncBuffer = ingesttest.SyncBuffer

func getenv(name string) string {
	if name == tokenEnv {
		return testToken
	}
	return ""
}

func clientConfig(base string, log *slog.Logger, m *ingest.Metrics) ClientConfig {
	return ClientConfig{
		BaseURL: base, BearerTokenEnv: tokenEnv, Getenv: getenv, Log: log, Metrics: m,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RequestTimeout: 5 * time.Second,
	}
}

var (
	hcldr = community.Community{ID: "hcldr", Hashtags: []string{"hcldr", "#HealthLeaders"}}
	hitsm = community.Community{ID: "hitsm", Hashtags: []string{"HITsm"}}
)

// tw is a tweet for a fake page.
type tw struct {
	ID, Author, Text string
	Ref              string // "retweeted:<id>", "replied_to:<id>", "quoted:<id>"
}

func (x tw) json(minute int) map[string]any {
	m := map[string]any{
		"id": x.ID, "author_id": x.Author, "text": x.Text, "lang": "en",
		"created_at":      fmt.Sprintf("2024-04-17T00:%02d:00.000Z", minute%60),
		"conversation_id": x.ID,
	}
	var tags []map[string]any
	for _, w := range strings.Fields(x.Text) {
		if strings.HasPrefix(w, "#") && !strings.HasSuffix(w, "…") {
			tags = append(tags, map[string]any{"tag": strings.TrimPrefix(w, "#")})
		}
	}
	if tags != nil {
		m["entities"] = map[string]any{"hashtags": tags}
	}
	if typ, id, ok := strings.Cut(x.Ref, ":"); ok {
		m["referenced_tweets"] = []map[string]string{{"type": typ, "id": id}}
	}
	return m
}

// page renders a recent-search page; originals go into includes.tweets.
func page(data []tw, originals []tw, next string) []byte {
	var d, inc []map[string]any
	users := map[string]bool{}
	for i, x := range data {
		d = append(d, x.json(i))
		users[x.Author] = true
	}
	for i, x := range originals {
		inc = append(inc, x.json(i))
		users[x.Author] = true
	}
	var us []map[string]any
	for u := range users {
		us = append(us, map[string]any{"id": u, "username": "user" + u, "name": "User " + u, "public_metrics": map[string]int{"followers_count": 10}})
	}
	meta := map[string]any{"result_count": len(data)}
	if len(data) > 0 {
		newest, oldest := data[0].ID, data[0].ID
		for _, x := range data {
			if ingest.CompareIDs(x.ID, newest) > 0 {
				newest = x.ID
			}
			if ingest.CompareIDs(x.ID, oldest) < 0 {
				oldest = x.ID
			}
		}
		meta["newest_id"], meta["oldest_id"] = newest, oldest
	}
	if next != "" {
		meta["next_token"] = next
	}
	out := map[string]any{"meta": meta}
	if len(d) > 0 {
		out["data"] = d
		out["includes"] = map[string]any{"users": us, "tweets": inc}
	}
	b, _ := json.Marshal(out)
	return b
}

var (
	runSource = ingesttest.Run
	waitFor   = ingesttest.WaitFor
	postIDs   = ingesttest.SortedIDs
)

// storedPosts reads every post on the POSTS stream matching subject.
func storedPosts(t *testing.T, env *bustest.Env, subject string) []*post.Post {
	t.Helper()
	n := env.Count(t, bus.PostsStream, subject)
	var out []*post.Post
	for _, m := range env.Messages(t, bus.PostsStream, subject, n, 5*time.Second) {
		posts, bad := bus.DecodePosts(m.Headers(), m.Data())
		if len(bad) > 0 {
			t.Fatalf("bad posts on %s: %v", m.Subject(), bad[0].Err)
		}
		out = append(out, posts...)
	}
	return out
}

func deadLetters(t *testing.T, env *bustest.Env, n int) []jetstream.Msg {
	t.Helper()
	return env.Messages(t, bus.DeadLetterStream, ">", n, 5*time.Second)
}

func cursor(t *testing.T, c *ingest.Cursors, key string) string {
	t.Helper()
	v, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type testEnv struct {
	nats    *bustest.Env
	em      *ingest.Emitter
	metrics *ingest.Metrics
	cursors *ingest.Cursors
	log     *slog.Logger
	logBuf  *syncBuffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	h := ingesttest.New(t)
	t.Cleanup(func() {
		if strings.Contains(h.Log.String(), testToken) {
			t.Errorf("bearer token leaked into the log:\n%s", h.Log.String())
		}
	})
	return &testEnv{nats: h.Env, em: h.Emitter, metrics: h.Metrics, cursors: h.Cursors, log: h.Logger, logBuf: h.Log}
}
