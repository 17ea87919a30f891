package bluesky

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/bus"
)

const (
	testIdentifier = "chatnight-bot.bsky.social"
	testPassword   = "abcd-efgh-ijkl-mnop" // an app password: must never be logged
)

// fakePDS answers createSession and searchPosts.
type fakePDS struct {
	srv        *httptest.Server
	mu         sync.Mutex
	logins     int
	searches   []string // "q|cursor|since|auth"
	expireOnce bool
	refuse     bool
}

func newFakePDS(t *testing.T) *fakePDS {
	f := &fakePDS{}
	page1 := readTestdata(t, "views/search_page1.json")
	page2 := readTestdata(t, "views/search_page2.json")
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/xrpc/com.atproto.server.createSession":
			var in struct{ Identifier, Password string }
			body, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(body, &in)
			if r.Method != http.MethodPost || f.refuse || in.Identifier != testIdentifier || in.Password != testPassword {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"AuthenticationRequired","message":"Invalid identifier or password"}`)
				return
			}
			f.logins++
			fmt.Fprintf(w, `{"accessJwt":"jwt-%d","refreshJwt":"refresh-%d","handle":%q,"did":"did:plc:bot","active":true}`, f.logins, f.logins, testIdentifier)
		case "/xrpc/app.bsky.feed.searchPosts":
			q := r.URL.Query()
			auth := r.Header.Get("Authorization")
			f.searches = append(f.searches, strings.Join([]string{q.Get("q"), q.Get("cursor"), q.Get("since"), auth, q.Get("sort"), q.Get("limit")}, "|"))
			if f.expireOnce {
				f.expireOnce = false
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"ExpiredToken","message":"Token has expired"}`)
				return
			}
			if !strings.HasPrefix(auth, "Bearer jwt-") {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"AuthMissing","message":"Authentication Required"}`)
				return
			}
			switch {
			case q.Get("q") != "#hcldr":
				fmt.Fprint(w, `{"posts":[]}`)
			case q.Get("cursor") == "":
				_, _ = w.Write(page1)
			case q.Get("cursor") == "page-2":
				_, _ = w.Write(page2)
			default:
				fmt.Fprint(w, `{"posts":[]}`)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestSearchBackfillPagesAndLogsInAgain(t *testing.T) {
	h := ingesttest.New(t)
	pds := newFakePDS(t)
	pds.expireOnce = true
	profiles := NewProfiles(pds.srv.URL, pds.srv.Client(), h.Logger)
	s, err := NewSearch(SearchConfig{
		PDSURL: pds.srv.URL, Identifier: testIdentifier, AppPassword: testPassword,
		Communities: testCommunities, Interval: time.Hour, Cursors: h.Cursors, Profiles: profiles,
		Metrics: h.Metrics, Log: h.Logger, HTTPClient: pds.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 10, 22, 1, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	sl := &ingesttest.Sleeps{Block: time.Hour}
	s.sleep = sl.Sleep
	stop := ingesttest.Run(t, s, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "both hashtags searched", func() bool {
		pds.mu.Lock()
		n := len(pds.searches)
		pds.mu.Unlock()
		return n == 4 && h.Cursor(t, SearchCursorKey("hcldr")) != ""
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	eq(t, "cursor = newest indexedAt", h.Cursor(t, SearchCursorKey("hcldr")), "2024-10-22T00:32:41Z")
	eq(t, "#hcldr posts", h.Count(t, bus.PostsStream, "posts.hcldr.bluesky"), uint64(3)) // the untagged match is dropped
	eq(t, "dead letters", h.Count(t, bus.DeadLetterStream, "deadletter.ingest.bluesky"), uint64(1))
	pds.mu.Lock()
	eq(t, "logins", pds.logins, 2)
	since := "2024-10-21T01:00:00Z" // no cursor yet: the 24 h lookback
	eq(t, "searches", pds.searches, []string{
		"#hcldr||" + since + "|Bearer jwt-1|latest|100",
		"#hcldr||" + since + "|Bearer jwt-2|latest|100",
		"#hcldr|page-2|" + since + "|Bearer jwt-2|latest|100",
		"#hitsm||" + since + "|Bearer jwt-2|latest|100",
	})
	pds.mu.Unlock()
	pr, ok := profiles.Get(didHost)
	eq(t, "author cached", []any{ok, pr.Handle}, []any{true, "hcldr.bsky.social"})
	if strings.Contains(h.Log.String(), testPassword) || strings.Contains(h.Log.String(), "jwt-") {
		t.Errorf("secret in the log:\n%s", h.Log.String())
	}

	// The next run reads from a little before the cursor.
	s2, _ := NewSearch(SearchConfig{PDSURL: pds.srv.URL, Identifier: testIdentifier, AppPassword: testPassword,
		Communities: testCommunities[:1], Cursors: h.Cursors, HTTPClient: pds.srv.Client()})
	s2.sleep = (&ingesttest.Sleeps{Block: defaultSearchEvery}).Sleep
	pds.mu.Lock()
	pds.searches = nil
	pds.mu.Unlock()
	stop2 := ingesttest.Run(t, s2, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "second run", func() bool {
		pds.mu.Lock()
		defer pds.mu.Unlock()
		return len(pds.searches) >= 2
	})
	_ = stop2()
	pds.mu.Lock()
	defer pds.mu.Unlock()
	if !strings.Contains(pds.searches[0], "|2024-10-22T00:22:41Z|") {
		t.Errorf("second run since = %q, want the cursor minus 10 min", pds.searches[0])
	}
}

func TestSearchRefusedLoginIsFatalAndSecret(t *testing.T) {
	h := ingesttest.New(t)
	pds := newFakePDS(t)
	pds.refuse = true
	s, err := NewSearch(SearchConfig{
		PDSURL: pds.srv.URL, Identifier: testIdentifier, AppPassword: testPassword,
		Communities: testCommunities, Cursors: h.Cursors, Log: h.Logger, HTTPClient: pds.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(t.Context(), h.Emitter)
	if err == nil || !strings.Contains(err.Error(), "AuthenticationRequired") || !strings.Contains(err.Error(), testIdentifier) {
		t.Fatalf("Run = %v, want a refused login naming the account", err)
	}
	if strings.Contains(err.Error(), testPassword) || strings.Contains(h.Log.String(), testPassword) {
		t.Errorf("the password leaked: %v\n%s", err, h.Log.String())
	}
}

func TestNewSearchNeedsCredentials(t *testing.T) {
	for _, cfg := range []SearchConfig{
		{Identifier: testIdentifier, Cursors: &cursorStub},
		{AppPassword: testPassword, Cursors: &cursorStub},
	} {
		_, err := NewSearch(cfg)
		if err == nil || !strings.Contains(err.Error(), "app_password_env") {
			t.Errorf("NewSearch without credentials: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("password in error: %v", err)
		}
	}
}

func TestSearchWaitsOutRateLimit(t *testing.T) {
	h := ingesttest.New(t)
	reset := time.Date(2024, 10, 22, 1, 0, 42, 0, time.UTC)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if r.URL.Path == "/xrpc/com.atproto.server.createSession" {
			fmt.Fprint(w, `{"accessJwt":"jwt-1","did":"did:plc:bot","handle":"bot.example"}`)
			return
		}
		if n == 2 {
			w.Header().Set("RateLimit-Reset", fmt.Sprint(reset.Unix()))
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":"RateLimitExceeded"}`)
			return
		}
		fmt.Fprint(w, `{"posts":[]}`)
	}))
	t.Cleanup(srv.Close)
	s, _ := NewSearch(SearchConfig{PDSURL: srv.URL, Identifier: "bot.example", AppPassword: "pw-1",
		Communities: testCommunities[:1], Cursors: h.Cursors, Metrics: h.Metrics, HTTPClient: srv.Client()})
	s.now = func() time.Time { return reset.Add(-42 * time.Second) }
	sl := &ingesttest.Sleeps{Block: defaultSearchEvery}
	s.sleep = sl.Sleep
	stop := ingesttest.Run(t, s, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "the retried search", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return n >= 3
	})
	_ = stop()
	eq(t, "waits", sl.List(), []time.Duration{42 * time.Second})
	eq(t, "rate limit waits", ingesttest.CounterValue(h.Metrics.RateLimitWaits.WithLabelValues("bluesky")), 1.0)
}
