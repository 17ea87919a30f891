package xapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// Three pages newest first, as recent search pages; page 2 repeats a tweet of page 1
// and both carry the same retweeted original.
var (
	orig1 = tw{ID: "1780300000000000001", Author: "501", Text: "Original thought #hcldr #PatientVoice"}
	pg1   = []tw{
		{ID: "1780400000000000009", Author: "502", Text: "T1 welcome #hcldr"},
		{ID: "1780400000000000008", Author: "503", Text: "RT @user501: Original thought #hc…", Ref: "retweeted:1780300000000000001"},
		{ID: "1780400000000000007", Author: "504", Text: "A1 yes #hcldr", Ref: "replied_to:1780400000000000009"},
	}
	pg2 = []tw{
		{ID: "1780400000000000007", Author: "504", Text: "A1 yes #hcldr", Ref: "replied_to:1780400000000000009"}, // repeated across pages
		{ID: "1780400000000000006", Author: "505", Text: "RT @user501: Original thought #hc…", Ref: "retweeted:1780300000000000001"},
	}
	pg3 = []tw{
		{ID: "1780400000000000005", Author: "502", Text: "pre-chat #HealthLeaders"},
	}
	// unique posts: 9, 8, orig1, 7, 6, 5
	wantIDs = []string{"x:1780300000000000001", "x:1780400000000000005", "x:1780400000000000006", "x:1780400000000000007", "x:1780400000000000008", "x:1780400000000000009"}
	newest  = "1780400000000000009"
)

// pagesHandler answers the first poll with pg1..pg3 by next_token and later polls
// (with since_id) with an empty page.
func pagesHandler(t *testing.T) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path != searchPath {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		switch {
		case q.Get("since_id") == newest:
			w.Write(page(nil, nil, ""))
		case q.Get("next_token") == "":
			w.Write(page(pg1, []tw{orig1}, "tok2"))
		case q.Get("next_token") == "tok2":
			w.Write(page(pg2, []tw{orig1}, "tok3"))
		case q.Get("next_token") == "tok3":
			w.Write(page(pg3, nil, ""))
		default:
			t.Errorf("unexpected query %v", q)
		}
	}
}

func newSearch(t *testing.T, te *testEnv, base string, cms ...community.Community) *Search {
	t.Helper()
	s, err := NewSearch(SearchConfig{
		ClientConfig: clientConfig(base, te.log, te.metrics),
		Communities:  cms, Cursors: te.cursors, PollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// searchUntilCaughtUp runs the #hcldr search until it polls with the newest id seen.
func searchUntilCaughtUp(t *testing.T, te *testEnv, fx *fakeX) {
	t.Helper()
	stop := runSource(t, newSearch(t, te, fx.URL, hcldr), te.em)
	waitFor(t, 10*time.Second, "a poll with since_id", func() bool {
		for _, r := range fx.requests() {
			if r.Query.Get("since_id") == newest {
				return true
			}
		}
		return false
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestSearchPagingCursorAndDuplicates(t *testing.T) {
	te := newTestEnv(t)
	fx := newFakeX(t, pagesHandler(t))
	searchUntilCaughtUp(t, te, fx)

	reqs := fx.requestsTo(searchPath)
	first := reqs[0].Query
	for k, want := range map[string]string{
		"query": "#hcldr OR #healthleaders", "max_results": "100",
		"expansions":  "author_id,referenced_tweets.id,referenced_tweets.id.author_id,entities.mentions.username",
		"user.fields": "username,name,public_metrics,description",
	} {
		if got := first.Get(k); got != want {
			t.Errorf("first request %s = %q, want %q", k, got, want)
		}
	}
	for _, f := range []string{"created_at", "conversation_id", "in_reply_to_user_id", "referenced_tweets", "entities", "public_metrics", "lang", "author_id"} {
		if !slices.Contains(strings.Split(first.Get("tweet.fields"), ","), f) {
			t.Errorf("tweet.fields %q lacks %s", first.Get("tweet.fields"), f)
		}
	}
	if first.Has("since_id") || first.Has("next_token") {
		t.Errorf("first request has since_id or next_token: %v", first)
	}
	if reqs[1].Query.Get("next_token") != "tok2" || reqs[2].Query.Get("next_token") != "tok3" {
		t.Errorf("paging tokens = %q, %q", reqs[1].Query.Get("next_token"), reqs[2].Query.Get("next_token"))
	}
	if got := cursor(t, te.cursors, CursorKey("hcldr")); got != newest {
		t.Errorf("cursor = %q, want newest_id of the first page %q", got, newest)
	}

	// 8 posts published (orig1 twice, tweet 7 twice), 6 stored: JetStream dropped the repeats.
	posts := storedPosts(t, te.nats, "posts.hcldr.x")
	if got := postIDs(posts); !slices.Equal(got, wantIDs) {
		t.Errorf("stored posts = %v, want %v", got, wantIDs)
	}
	if stored, dupes := te.em.Counts(); stored != 6 || dupes != 2 {
		t.Errorf("publisher counts stored=%d duplicates=%d, want 6 and 2", stored, dupes)
	}
	byID := byID(posts)
	rt := byID["x:1780400000000000008"]
	if rt.Community != "hcldr" || rt.Source != post.SourceX || rt.Kind != post.KindRepost ||
		rt.RepostOfID != "x:1780300000000000001" || rt.RepostOfAuthorID != "x:501" ||
		!reflect.DeepEqual(rt.Author, post.Account{ID: "x:503", Handle: "user503", Name: "User 503", Followers: 10}) ||
		!slices.Equal(rt.Hashtags, []string{"hcldr", "patientvoice"}) ||
		rt.URL != "https://x.com/user503/status/1780400000000000008" {
		t.Errorf("retweet stored as %+v", rt)
	}
	if r := byID["x:1780400000000000007"]; r.Kind != post.KindReply || r.ReplyToID != "x:1780400000000000009" {
		t.Errorf("reply stored as %+v", r)
	}
	if o := byID["x:1780300000000000001"]; o.Kind != post.KindOriginal || o.Author.ID != "x:501" || o.Text != "Original thought #hcldr #PatientVoice" {
		t.Errorf("original stored as %+v", o)
	}
}

func TestSearchRateLimitRemainingZeroWaitsForReset(t *testing.T) {
	te := newTestEnv(t)
	var reset time.Time
	fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		switch {
		case n == 1:
			// Last request of the window: the next one must wait for the reset.
			reset = time.Unix(time.Now().Unix()+2, 0)
			w.Header().Set("x-rate-limit-limit", "450")
			w.Header().Set("x-rate-limit-remaining", "0")
			w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
			w.Write(page(pg1, []tw{orig1}, "tok2"))
		case q.Get("next_token") == "tok2":
			w.Header().Set("x-rate-limit-remaining", "449")
			w.Header().Set("x-rate-limit-reset", strconv.FormatInt(time.Now().Unix()+900, 10))
			w.Write(page(pg2, []tw{orig1}, ""))
		default:
			w.Write(page(nil, nil, ""))
		}
	})
	stop := runSource(t, newSearch(t, te, fx.URL, hcldr), te.em)
	waitFor(t, 10*time.Second, "the cursor", func() bool { return cursor(t, te.cursors, CursorKey("hcldr")) == newest })
	stop()
	reqs := fx.requests()
	if !reqs[1].At.After(reset) && !reqs[1].At.Equal(reset) {
		t.Errorf("second request at %v, before the rate-limit reset %v", reqs[1].At, reset)
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 900*time.Millisecond {
		t.Errorf("second request %v after the first, want a wait for the reset", gap)
	}
	if got := counterValue(te.metrics.RateLimitWaits.WithLabelValues("x")); got < 1 {
		t.Errorf("rate-limit waits = %v, want >= 1", got)
	}
}

func TestSearchRetriesTransientFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      func(w http.ResponseWriter) (resetAt time.Time)
		waitReset bool
	}{
		{name: "429 with reset header", waitReset: true, fail: func(w http.ResponseWriter) time.Time {
			reset := time.Unix(time.Now().Unix()+1, 0)
			w.Header().Set("x-rate-limit-remaining", "0")
			w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`))
			return reset
		}},
		{name: "429 without headers", fail: func(w http.ResponseWriter) time.Time {
			w.WriteHeader(http.StatusTooManyRequests)
			return time.Time{}
		}},
		{name: "503", fail: func(w http.ResponseWriter) time.Time {
			http.Error(w, `{"title":"Service Unavailable"}`, http.StatusServiceUnavailable)
			return time.Time{}
		}},
		{name: "connection dropped", fail: func(w http.ResponseWriter) time.Time {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return time.Time{}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv(t)
			var reset time.Time
			fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
				switch {
				case n == 1:
					reset = tc.fail(w)
				case r.URL.Query().Has("since_id"):
					w.Write(page(nil, nil, ""))
				default:
					w.Write(page(pg1, []tw{orig1}, ""))
				}
			})
			stop := runSource(t, newSearch(t, te, fx.URL, hcldr), te.em)
			waitFor(t, 10*time.Second, "the cursor", func() bool { return cursor(t, te.cursors, CursorKey("hcldr")) == newest })
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := len(storedPosts(t, te.nats, ">")); got != 4 {
				t.Errorf("stored %d posts, want 4", got)
			}
			reqs := fx.requests()
			if tc.waitReset && reqs[1].At.Before(reset) {
				t.Errorf("retry at %v, before the reset %v", reqs[1].At, reset)
			}
			errs := counterValue(te.metrics.Errors.WithLabelValues("x"))
			waits := counterValue(te.metrics.RateLimitWaits.WithLabelValues("x"))
			if errs+waits < 1 {
				t.Errorf("no error or rate-limit wait counted")
			}
		})
	}
}

func TestSearchCursorOutOfWindowAndLookback(t *testing.T) {
	te := newTestEnv(t)
	ctx := context.Background()
	if err := te.cursors.Put(ctx, CursorKey("hcldr"), "1700000000000000000"); err != nil {
		t.Fatal(err)
	}
	fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		switch {
		case q.Get("since_id") == "1700000000000000000":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"errors":[{"parameters":{"since_id":["1700000000000000000"]},"message":"Invalid 'since_id':'1700000000000000000'. 'since_id' must be a tweet id created after 2024-04-10T00:00Z."}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}`))
		case q.Has("since_id"):
			w.Write(page(nil, nil, ""))
		default:
			w.Write(page(pg1, []tw{orig1}, ""))
		}
	})
	s, err := NewSearch(SearchConfig{
		ClientConfig: clientConfig(fx.URL, te.log, te.metrics),
		Communities:  []community.Community{hcldr, hitsm}, Cursors: te.cursors, Lookback: 2 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range s.communities {
		if err := s.Poll(ctx, te.em, &cm); err != nil {
			t.Fatalf("poll %s: %v", cm.ID, err)
		}
	}
	if got := cursor(t, te.cursors, CursorKey("hcldr")); got != newest {
		t.Errorf("hcldr cursor = %q, want %q after falling back to the search window", got, newest)
	}
	reqs := fx.requests()
	if len(reqs) != 3 || reqs[1].Query.Has("since_id") || reqs[1].Query.Has("start_time") {
		t.Fatalf("requests = %+v, want the 400 retried without since_id", reqs)
	}
	// hitsm had no cursor: Lookback bounds its first poll.
	st, err := time.Parse(time.RFC3339, reqs[2].Query.Get("start_time"))
	if reqs[2].Query.Get("query") != "#hitsm" || err != nil || time.Since(st) < 2*time.Hour-time.Minute || time.Since(st) > 2*time.Hour+time.Minute {
		t.Errorf("first hitsm poll = %v, want start_time two hours back", reqs[2].Query)
	}
}

func TestSearchKillAndResume(t *testing.T) {
	te := newTestEnv(t)
	page3Asked := make(chan struct{}, 1)
	block := true
	fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("next_token") == "tok3" && block {
			// The first source dies while it waits for the last page.
			page3Asked <- struct{}{}
			<-r.Context().Done()
			return
		}
		pagesHandler(t)(w, r, n)
	})
	stop := runSource(t, newSearch(t, te, fx.URL, hcldr), te.em)
	select {
	case <-page3Asked:
	case <-time.After(10 * time.Second):
		t.Fatal("page 3 never asked for")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := cursor(t, te.cursors, CursorKey("hcldr")); got != "" {
		t.Fatalf("cursor saved as %q before the poll finished: pages 3.. would be lost", got)
	}
	fx.mu.Lock()
	block = false
	fx.mu.Unlock()

	// A new process: new emitter and source on the same NATS.
	te2 := *te
	log, _ := testLog(t)
	te2.log = log
	te2.em = ingest.NewEmitter(te.nats.JS, te.metrics, log)
	stop2 := runSource(t, newSearch(t, &te2, fx.URL, hcldr), te2.em)
	waitFor(t, 10*time.Second, "the cursor", func() bool { return cursor(t, te.cursors, CursorKey("hcldr")) == newest })
	if err := stop2(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	posts := storedPosts(t, te.nats, ">")
	if got := postIDs(posts); !slices.Equal(got, wantIDs) {
		t.Errorf("stored after resume = %v, want each of %v once", got, wantIDs)
	}
}

func TestSearchTokenHandling(t *testing.T) {
	te := newTestEnv(t)
	// Missing token: the error names the variable.
	_, err := NewSearch(SearchConfig{
		ClientConfig: ClientConfig{BearerTokenEnv: "CHATNIGHT_NO_SUCH_VAR", Getenv: getenv},
		Communities:  []community.Community{hcldr}, Cursors: te.cursors,
	})
	if err == nil || !strings.Contains(err.Error(), "CHATNIGHT_NO_SUCH_VAR") {
		t.Fatalf("missing token error = %v, want it to name the variable", err)
	}
	if _, err := NewSearch(SearchConfig{Communities: []community.Community{hcldr}, Cursors: te.cursors}); err == nil || !strings.Contains(err.Error(), "bearer_token_env") {
		t.Fatalf("unconfigured token error = %v", err)
	}

	// A hostile server echoes the Authorization header in its errors: neither the
	// logs nor the returned error may show it.
	fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		status := http.StatusServiceUnavailable
		if n > 1 {
			status = http.StatusUnauthorized
		}
		http.Error(w, `{"detail":"bad credentials `+r.Header.Get("Authorization")+`"}`, status)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = newSearch(t, te, fx.URL, hcldr).Run(ctx, te.em)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Run error = %v, want the 401", err)
	}
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		t.Errorf("Run error %v does not unwrap to the 401 StatusError", err)
	}
	if len(fx.requests()) != 2 {
		t.Errorf("requests = %d, want the 503 retried once, then the 401 fatal", len(fx.requests()))
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(te.logBuf.String(), testToken) {
		t.Fatalf("token leaked: err=%v\nlog=%s", err, te.logBuf.String())
	}
	if !strings.Contains(err.Error(), "[redacted]") || !strings.Contains(te.logBuf.String(), "[redacted]") {
		t.Errorf("error %q and log should show where the token was redacted", err)
	}
	tok := newSearch(t, te, fx.URL, hcldr).c.token
	if v := fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok); strings.Contains(v, testToken) {
		t.Errorf("token printable: %q", v)
	}
	te.log.Info("config", "token", tok) // testLog fails the test if this shows the token
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// TestSearchPageCapOnRecord: a poll cut at MaxSearchPages puts what it did not read on
// record as a completeness event of its community, and the cursor still moves on.
func TestSearchPageCapOnRecord(t *testing.T) {
	defer func(n int) { MaxSearchPages = n }(MaxSearchPages)
	MaxSearchPages = 2
	te := newTestEnv(t)
	fx := newFakeX(t, pagesHandler(t))
	searchUntilCaughtUp(t, te, fx)
	for _, r := range fx.requestsTo(searchPath) {
		if r.Query.Get("next_token") == "tok3" {
			t.Error("page 3 was read past the cap")
		}
	}
	var got []string
	for _, m := range te.nats.Messages(t, "STEWARD", "steward.completeness.x", 1, 5*time.Second) {
		evs, bad := steward.Decode(m.Data(), (*steward.Event).Validate)
		if len(bad) > 0 {
			t.Fatal(bad)
		}
		for _, e := range evs {
			got = append(got, fmt.Sprintf("%s %s %s %s %s %d", e.Source, e.Community, e.Kind, e.From.Format(time.RFC3339Nano), e.To.Format(time.RFC3339Nano), e.Count))
		}
	}
	// The oldest tweet read (1780400000000000006) was made at 00:56:52.889; no cursor
	// or lookback says where the unread part begins, so the window is that moment.
	want := []string{"x hcldr page_cap 2024-04-17T00:56:52.889Z 2024-04-17T00:56:52.889Z 1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("completeness events %q, want %q", got, want)
	}
	if got := cursor(t, te.cursors, CursorKey("hcldr")); got != newest {
		t.Errorf("cursor = %q, want %q", got, newest)
	}
}

// TestSearchRechecksStoredTweets: tweets the search published are looked up again once
// due; those X answers with resource-not-found are reported deleted, once each.
func TestSearchRechecksStoredTweets(t *testing.T) {
	defer func(d time.Duration) { RecheckAfter = d }(RecheckAfter)
	RecheckAfter = 0
	te := newTestEnv(t)
	pages := pagesHandler(t)
	fx := newFakeX(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == lookupPath {
			fmt.Fprint(w, `{"data":[{"id":"1780400000000000009","text":"T1 welcome #hcldr"}],"errors":[`+
				`{"value":"1780400000000000008","detail":"Could not find tweet with ids: [1780400000000000008].","title":"Not Found Error","resource_type":"tweet","parameter":"ids","resource_id":"1780400000000000008","type":"https://api.twitter.com/2/problems/resource-not-found"},`+
				`{"resource_id":"1780400000000000007","title":"Authorization Error","type":"https://api.twitter.com/2/problems/not-authorized-for-resource"}]}`)
			return
		}
		pages(w, r, n)
	})
	stop := runSource(t, newSearch(t, te, fx.URL, hcldr), te.em)
	waitFor(t, 10*time.Second, "a lookup", func() bool { return len(fx.requestsTo(lookupPath)) > 0 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	first := fx.requestsTo(lookupPath)[0].Query.Get("ids")
	if ids := strings.Split(first, ","); len(ids) != 6 || !slices.Contains(ids, "1780400000000000008") {
		t.Errorf("first lookup asked for %q, want the 6 tweets published", first)
	}
	var got []string
	for _, m := range te.nats.Messages(t, "STEWARD", "steward.deletions.x", 1, 5*time.Second) {
		ds, _ := steward.Decode(m.Data(), (*steward.Deletion).Validate)
		for _, d := range ds {
			got = append(got, d.PostID+" "+d.Reason)
		}
	}
	if fmt.Sprint(got) != "[x:1780400000000000008 x 404 on lookup]" {
		t.Errorf("deletions %q", got)
	}
}
