package mastodon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

var t0 = time.Date(2024, 10, 22, 0, 30, 0, 0, time.UTC)

// newTestPoller makes a poller on inst with its waits recorded and skipped.
func newTestPoller(t *testing.T, h *ingesttest.Harness, inst *fakeInstance, token string) (*Poller, *ingesttest.Sleeps) {
	t.Helper()
	p, err := NewPoller(PollerConfig{
		BaseURL: inst.srv.URL, Tag: "#HCLDR", AccessToken: token,
		Communities: testCommunities, Interval: time.Hour, Lookback: -1,
		Cursors: h.Cursors, Metrics: h.Metrics, Log: h.Logger, HTTPClient: inst.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sl := &ingesttest.Sleeps{Block: time.Hour}
	p.c.sleep = sl.Sleep
	return p, sl
}

func timelineRequests(inst *fakeInstance) []url.Values {
	var out []url.Values
	for _, r := range inst.requestLog() {
		if u, _ := url.Parse(r); strings.HasPrefix(u.Path, "/api/v1/timelines/tag/") {
			out = append(out, u.Query())
		}
	}
	return out
}

func TestPollerPagesForwardWithLinkHeaders(t *testing.T) {
	h := ingesttest.New(t)
	inst, ss := newFakeTimeline(t, 95)
	p, _ := newTestPoller(t, h, inst, "")
	h.SetCursor(t, p.key, ss[4].LocalID)

	stop := ingesttest.Run(t, p, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "cursor at the newest status", func() bool { return h.Cursor(t, p.key) == ss[94].LocalID })
	// The cursor moves before the poller asks for the (empty) page after it: wait for that
	// request too, or a loaded machine stops the poller first.
	ingesttest.WaitFor(t, 10*time.Second, "the empty page after the newest", func() bool { return len(timelineRequests(inst)) >= 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	eq(t, "posts stored", h.Count(t, bus.PostsStream, "posts.hcldr.mastodon"), uint64(90))
	eq(t, "cursor key", p.key, "mastodon."+keySafe(inst.host)+".hcldr")

	reqs := timelineRequests(inst)
	var minIDs []string
	for _, q := range reqs {
		minIDs = append(minIDs, q.Get("min_id"))
		eq(t, "limit", q.Get("limit"), "40")
	}
	// min_id = cursor, then each page's rel="prev" (its newest id), until a page is empty.
	eq(t, "min_ids", minIDs, []string{ss[4].LocalID, ss[44].LocalID, ss[84].LocalID, ss[94].LocalID})
}

func TestPollerFirstRunReadsNewestPage(t *testing.T) {
	h := ingesttest.New(t)
	inst, ss := newFakeTimeline(t, 55)
	p, _ := newTestPoller(t, h, inst, "")
	stop := ingesttest.Run(t, p, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "cursor", func() bool { return h.Cursor(t, p.key) == ss[54].LocalID })
	_ = stop()
	eq(t, "posts stored", h.Count(t, bus.PostsStream, "posts.hcldr.mastodon"), uint64(40))
	reqs := timelineRequests(inst)
	eq(t, "requests", len(reqs), 1)
	eq(t, "min_id", reqs[0].Get("min_id"), "")
}

func TestPollerWaitsForRateLimitReset(t *testing.T) {
	h := ingesttest.New(t)
	inst, ss := newFakeTimeline(t, 50)
	inst.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1: // a full page that spends the last request of the window
			w.Header().Set("X-RateLimit-Limit", "300")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", time.Now().Add(90*time.Second).UTC().Format("2006-01-02T15:04:05.000Z"))
			inst.timeline(w, r)
			return true
		case 2:
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", time.Now().Add(30*time.Second).UTC().Format(time.RFC3339Nano))
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":"Too many requests"}`)
			return true
		}
		return false
	}
	p, sl := newTestPoller(t, h, inst, "")
	stop := pollUntil(t, h, p, ss[4].LocalID, ss[49].LocalID)
	_ = stop()

	waits := sl.List()
	if len(waits) != 2 {
		t.Fatalf("waits = %v, want the two rate-limit windows", waits)
	}
	within := func(d, want time.Duration) bool { return d > want-10*time.Second && d <= want }
	if !within(waits[0], 90*time.Second) || !within(waits[1], 30*time.Second) {
		t.Errorf("waits = %v, want about [1m30s 30s]", waits)
	}
	eq(t, "rate limit waits", ingesttest.CounterValue(h.Metrics.RateLimitWaits.WithLabelValues("mastodon")), 2.0)
	eq(t, "posts stored", h.Count(t, bus.PostsStream, "posts.hcldr.mastodon"), uint64(45))
}

// pollUntil runs p from cursor from until its cursor reaches to, and returns its stop.
func pollUntil(t *testing.T, h *ingesttest.Harness, p *Poller, from, to string) (stop func() error) {
	t.Helper()
	h.SetCursor(t, p.key, from)
	stop = ingesttest.Run(t, p, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "cursor", func() bool { return h.Cursor(t, p.key) == to })
	return stop
}

func TestPollerRetriesServerErrors(t *testing.T) {
	h := ingesttest.New(t)
	inst, ss := newFakeTimeline(t, 12)
	inst.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n <= 2 {
			http.Error(w, "<html>Service Unavailable</html>", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	p, sl := newTestPoller(t, h, inst, "")
	stop := pollUntil(t, h, p, ss[1].LocalID, ss[11].LocalID)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	eq(t, "backoff waits", len(sl.List()), 2)
	eq(t, "errors counted", ingesttest.CounterValue(h.Metrics.Errors.WithLabelValues("mastodon")), 2.0)
	eq(t, "posts stored", h.Count(t, bus.PostsStream, "posts.hcldr.mastodon"), uint64(10))
}

func TestPollerTwoInstancesStoreEachStatusOnce(t *testing.T) {
	h := ingesttest.New(t)
	a, b := newFakeInstance(t), newFakeInstance(t)
	ss := makeStatuses(10, "hitsm.example", t0, 1)
	a.add(ss...)
	var local []fakeStatus
	for _, s := range ss {
		s.LocalID = snowflake(s.Created, 2)     // instance b's own ids
		s.Acct, _, _ = strings.Cut(s.Acct, "@") // b is hitsm.example's home: local accts
		s.AccountID = "9" + s.AccountID
		local = append(local, s)
	}
	b.add(local...)
	pa, _ := newTestPoller(t, h, a, "")
	pb, _ := newTestPoller(t, h, b, "")
	stopA, stopB := ingesttest.Run(t, pa, h.Emitter), ingesttest.Run(t, pb, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "both cursors", func() bool {
		return h.Cursor(t, pa.key) == ss[9].LocalID && h.Cursor(t, pb.key) == local[9].LocalID
	})
	_, _ = stopA(), stopB()
	eq(t, "messages in the stream", h.Count(t, bus.PostsStream, "posts.hcldr.mastodon"), uint64(10))
	// Each instance answering is on record once per hour.
	eq(t, "instances polled on record", h.Count(t, bus.StewardStream, "steward.completeness.mastodon"), uint64(2))
	stored, dupes := h.Emitter.Counts()
	eq(t, "stored", stored, 12)
	eq(t, "duplicates", dupes, 10)
}

func TestPollerDeadLettersMalformedStatus(t *testing.T) {
	h := ingesttest.New(t)
	inst := newFakeInstance(t)
	ss := makeStatuses(6, "healthcare.example", t0, 1)
	badRaw := fmt.Sprintf(`{"id":%q,"created_at":"2024-10-22T00:30:03.000Z","uri":"https://healthcare.example/users/x/statuses/9","content":"<p>#hcldr</p>","tags":[{"name":"hcldr"}]}`, ss[3].LocalID)
	ss[3].Raw = badRaw // no account
	inst.add(ss...)
	p, _ := newTestPoller(t, h, inst, "")
	stop := pollUntil(t, h, p, "1", ss[5].LocalID)
	_ = stop()
	eq(t, "good posts stored", h.Count(t, bus.PostsStream, "posts.hcldr.mastodon"), uint64(5))
	msgs := h.Env.Messages(t, bus.DeadLetterStream, "deadletter.ingest.mastodon", 1, 5*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("dead letters = %d, want 1", len(msgs))
	}
	eq(t, "dead letter payload", string(msgs[0].Data()), badRaw)
	if e := msgs[0].Headers().Get(bus.HeaderError); !strings.Contains(e, "no account") {
		t.Errorf("error header = %q", e)
	}
	if o := msgs[0].Headers().Get(bus.HeaderOrigin); !strings.Contains(o, ss[3].LocalID) || strings.Contains(o, "?") {
		t.Errorf("origin header = %q, want the timeline URL and the status id", o)
	}
	eq(t, "invalid counted", ingesttest.CounterValue(h.Metrics.Invalid.WithLabelValues("mastodon")), 1.0)
}

func TestPollerResolvesReplyParents(t *testing.T) {
	h := ingesttest.New(t)
	inst := newFakeInstance(t)
	ss := makeStatuses(4, "healthcare.example", t0, 1)
	// ss[1] replies to ss[0] (same page); ss[2] to an untagged status known to the
	// instance; ss[3] to one that is gone.
	hidden := fakeStatus{LocalID: snowflake(t0.Add(-time.Hour), 1), URI: "https://other.example/users/q/statuses/77",
		Acct: "q@other.example", AccountID: "808", Created: t0.Add(-time.Hour), Text: "Q1: what is a leader?"}
	ss[1].ReplyTo, ss[1].ReplyAcct = ss[0].LocalID, ss[0].AccountID
	ss[2].ReplyTo, ss[2].ReplyAcct = hidden.LocalID, hidden.AccountID
	ss[3].ReplyTo, ss[3].ReplyAcct = "12345", "1"
	inst.add(ss...)
	inst.add(hidden)
	p, _ := newTestPoller(t, h, inst, "")
	stop := pollUntil(t, h, p, "1", ss[3].LocalID)
	_ = stop()

	byID := h.Posts(t, "posts.hcldr.mastodon", 4)
	get := func(s fakeStatus) *post.Post {
		p := byID[PostID(s.URI)]
		if p == nil {
			t.Fatalf("post %s not stored", s.URI)
		}
		return p
	}
	eq(t, "reply in page", get(ss[1]).ReplyToID, PostID(ss[0].URI))
	eq(t, "reply in page author", get(ss[1]).ReplyToAuthorID, get(ss[0]).Author.ID)
	eq(t, "reply looked up", get(ss[2]).ReplyToID, PostID(hidden.URI))
	eq(t, "reply looked up author", get(ss[2]).ReplyToAuthorID, "mastodon:q@other.example")
	eq(t, "reply to gone status", get(ss[3]).ReplyToID, "")
	eq(t, "reply to gone status kind", get(ss[3]).Kind, post.KindReply)
	var lookups []string
	for _, r := range inst.requestLog() {
		if strings.HasPrefix(r, "/api/v1/statuses/") {
			lookups = append(lookups, strings.TrimPrefix(r, "/api/v1/statuses/"))
		}
	}
	eq(t, "lookups", lookups, []string{"12345", hidden.LocalID}) // in page order, newest first
}

func TestPollerRefusedIsFatalAndKeepsTheTokenSecret(t *testing.T) {
	const token = "s3cr3t-TOKEN-do-not-log"
	for _, tc := range []struct {
		name, token, want string
	}{
		{"no token", "", "set access_token_env"},
		{"token refused", token, "access token was refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ingesttest.New(t)
			inst := newFakeInstance(t)
			inst.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"This method requires an authenticated user"}`)
				return true
			}
			p, _ := newTestPoller(t, h, inst, tc.token)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := p.Run(ctx, h.Emitter)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "401") {
				t.Fatalf("Run = %v, want a 401 error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(h.Log.String(), token) {
				t.Errorf("the token leaked: err=%v log=%s", err, h.Log.String())
			}
			auth := inst.authLog()
			if tc.token != "" && auth[0] != "Bearer "+token {
				t.Errorf("Authorization = %q", auth[0])
			}
			if tc.token == "" && auth[0] != "" {
				t.Errorf("Authorization sent without a token: %q", auth[0])
			}
		})
	}
}

func TestStreamingBackfillsAfterEachConnect(t *testing.T) {
	const token = "stream-secret-9f8e7d"
	h := ingesttest.New(t)
	inst := newFakeInstance(t)
	ss := makeStatuses(6, "healthcare.example", t0, 1)
	inst.add(ss[:3]...) // on the timeline before the first connect
	var afterFirst atomic.Bool
	inst.stream = func(w http.ResponseWriter, r *http.Request, conn int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		fl.Flush() // the client has its stream now and backfills
		if conn == 1 {
			// Let the first backfill finish: it ends with an empty page after ss[2].
			for deadline := time.Now().Add(5 * time.Second); ; {
				if slices.ContainsFunc(inst.requestLog(), func(r string) bool { return strings.Contains(r, "min_id="+ss[2].LocalID) }) {
					break
				}
				if time.Now().After(deadline) {
					t.Error("the first backfill did not happen")
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Fprint(w, ":)\n\n:thump\n\n")
			fmt.Fprintf(w, "event: update\ndata: %s\n\n", ss[3].json(inst.host))
			fmt.Fprint(w, "event: delete\ndata: 1234\n\n") // a status this source never saw
			fmt.Fprintf(w, "event: delete\ndata: %s\n\n", ss[1].LocalID)
			fmt.Fprint(w, "event: update\ndata: {\"id\":\"broken\"\n\n")
			fl.Flush()
			// Posted while the stream is down: only the REST backfill can see these.
			inst.add(ss[3], ss[4], ss[5])
			afterFirst.Store(true)
			return
		}
		<-r.Context().Done()
	}
	s, err := NewStreaming(PollerConfig{
		BaseURL: inst.srv.URL, Tag: "hcldr", AccessToken: token, Communities: testCommunities,
		Lookback: -1, Cursors: h.Cursors, Metrics: h.Metrics, Log: h.Logger, HTTPClient: inst.srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sl := &ingesttest.Sleeps{}
	s.p.c.sleep = sl.Sleep
	h.SetCursor(t, s.p.key, "1")
	stop := ingesttest.Run(t, s, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "cursor at the last status", func() bool { return h.Cursor(t, s.p.key) == ss[5].LocalID })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	eq(t, "posts stored", h.Count(t, bus.PostsStream, "posts.hcldr.mastodon"), uint64(6))
	eq(t, "broken event dead-lettered", h.Count(t, bus.DeadLetterStream, "deadletter.ingest.mastodon"), uint64(1))
	var dels []string
	for _, m := range h.Env.Messages(t, bus.StewardStream, "steward.deletions.mastodon", 1, 5*time.Second) {
		ds, _ := steward.Decode(m.Data(), (*steward.Deletion).Validate)
		for _, d := range ds {
			dels = append(dels, d.PostID+" "+d.Reason)
		}
	}
	eq(t, "deletions reported", dels, []string{"mastodon:" + ss[1].URI + " mastodon delete event"})
	eq(t, "stream end on record as a replay", h.Count(t, bus.StewardStream, "steward.completeness.mastodon") >= 2, true)

	// connect, backfill, stream; reconnect, backfill.
	var seq []string
	for _, r := range inst.requestLog() {
		switch {
		case strings.HasPrefix(r, "/api/v1/streaming/hashtag?tag=hcldr"):
			seq = append(seq, "stream")
		case strings.HasPrefix(r, "/api/v1/timelines/tag/hcldr"):
			if len(seq) == 0 || seq[len(seq)-1] != "rest" {
				seq = append(seq, "rest")
			}
		}
	}
	eq(t, "request order", seq, []string{"stream", "rest", "stream", "rest"})
	for i, a := range inst.authLog() {
		if a != "Bearer "+token {
			t.Errorf("request %d Authorization = %q", i, a)
		}
	}
	if strings.Contains(h.Log.String(), token) {
		t.Errorf("token in the log:\n%s", h.Log.String())
	}
	if !afterFirst.Load() {
		t.Error("the first stream never ended")
	}
}

func TestNewStreamingNeedsToken(t *testing.T) {
	_, err := NewStreaming(PollerConfig{BaseURL: "https://mastodon.example", Tag: "hcldr"})
	if err == nil || !strings.Contains(err.Error(), "access_token_env") {
		t.Fatalf("err = %v", err)
	}
}

func TestRequestMinIDLooksBack(t *testing.T) {
	p := &Poller{cfg: PollerConfig{Lookback: 2 * time.Minute}, c: &client{now: func() time.Time { return t0.Add(time.Hour) }}}
	p.cursor = snowflake(t0, 77)
	eq(t, "lookback", p.requestMinID(), snowflake(t0.Add(-2*time.Minute), 0))
	for _, c := range []string{"", "01J9ZQ5T3Q8N2", "12345"} { // none, a ULID, a pre-snowflake id
		p.cursor = c
		eq(t, "unchanged "+c, p.requestMinID(), c)
	}
	p.cfg.Lookback = -1
	p.cursor = snowflake(t0, 77)
	eq(t, "off", p.requestMinID(), p.cursor)
}

func TestLinkRel(t *testing.T) {
	h := http.Header{}
	h.Add("Link", `<https://m.example/api/v1/timelines/tag/x?max_id=1>; rel="next", <https://m.example/api/v1/timelines/tag/x?min_id=9>; rel="prev"`)
	eq(t, "prev", linkRel(h, "prev"), "https://m.example/api/v1/timelines/tag/x?min_id=9")
	eq(t, "next", linkRel(h, "next"), "https://m.example/api/v1/timelines/tag/x?max_id=1")
	eq(t, "none", linkRel(http.Header{}, "prev"), "")
	h2 := http.Header{}
	h2.Add("Link", `<https://a/x?min_id=3>;rel=prev`)
	eq(t, "unquoted", linkRel(h2, "prev"), "https://a/x?min_id=3")
}

func TestMaxID(t *testing.T) {
	eq(t, "from none", maxID("", "5"), "5")
	eq(t, "longer is newer", maxID("100", "99"), "100")
}

func TestSources(t *testing.T) {
	cfg := &community.Config{
		Communities: []community.Community{
			{ID: "hcldr", Hashtags: []string{"hcldr"}, Sources: []string{"mastodon", "bluesky"}},
			{ID: "hitsm", Hashtags: []string{"hitsm", "HITsm"}, Sources: []string{"mastodon"}},
			{ID: "imports", Hashtags: []string{"imports"}}, // no sources: imports only
			{ID: "xonly", Hashtags: []string{"xonly"}, Sources: []string{"x"}},
		},
		Sources: community.Sources{Mastodon: community.MastodonSource{Instances: []community.MastodonInstance{
			{BaseURL: "https://a.example"},
			{BaseURL: "https://b.example", AccessTokenEnv: "B_TOKEN"},
		}}},
	}
	env := map[string]string{"B_TOKEN": "tok"}
	srcs, err := Sources(cfg, func(k string) string { return env[k] }, Deps{Cursors: &ingestCursorsStub})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name())
	}
	eq(t, "sources", names, []string{"mastodon:a.example#hcldr", "mastodon:a.example#hitsm", "mastodon-stream:b.example#hcldr", "mastodon-stream:b.example#hitsm"})
	delete(env, "B_TOKEN")
	if _, err := Sources(cfg, func(k string) string { return env[k] }, Deps{Cursors: &ingestCursorsStub}); err == nil || !strings.Contains(err.Error(), "B_TOKEN") {
		t.Errorf("missing token: err = %v", err)
	}
}

func TestNewPollerChecksConfig(t *testing.T) {
	for _, cfg := range []PollerConfig{
		{BaseURL: "mastodon.social", Tag: "x", Cursors: &ingestCursorsStub},
		{BaseURL: "https://m.example", Tag: "#", Cursors: &ingestCursorsStub},
		{BaseURL: "https://m.example", Tag: "x"},
	} {
		if _, err := NewPoller(cfg); err == nil {
			t.Errorf("NewPoller(%+v) accepted", cfg)
		}
	}
	var se *statusError
	if errors.As(fmt.Errorf("x: %w", &statusError{Code: 404}), &se) && se.Code != 404 {
		t.Fatal("statusError does not unwrap")
	}
}

// TestPollerRechecksStoredStatuses: a status the poller published is looked up again
// once due; a 410 (or 404) reports it deleted, a found one reports nothing.
func TestPollerRechecksStoredStatuses(t *testing.T) {
	defer func(a time.Duration, n int) { RecheckAfter, RecheckPerPoll = a, n }(RecheckAfter, RecheckPerPoll)
	RecheckAfter, RecheckPerPoll = 0, 5
	h := ingesttest.New(t)
	inst := newFakeInstance(t)
	ss := makeStatuses(3, "healthcare.example", t0, 1)
	inst.add(ss...)
	inst.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/api/v1/statuses/"+ss[1].LocalID {
			http.Error(w, `{"error":"Gone"}`, http.StatusGone)
			return true
		}
		return false
	}
	p, _ := newTestPoller(t, h, inst, "")
	stop := ingesttest.Run(t, p, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "the rechecks", func() bool {
		n := 0
		for _, r := range inst.requestLog() {
			if strings.HasPrefix(r, "/api/v1/statuses/") {
				n++
			}
		}
		return n >= 3
	})
	_ = stop()
	var dels []string
	for _, m := range h.Env.Messages(t, bus.StewardStream, "steward.deletions.mastodon", 1, 5*time.Second) {
		ds, _ := steward.Decode(m.Data(), (*steward.Deletion).Validate)
		for _, d := range ds {
			dels = append(dels, d.PostID+" "+d.Reason)
		}
	}
	eq(t, "deletions", dels, []string{"mastodon:" + ss[1].URI + " mastodon Gone on recheck"})
	eq(t, "deletion messages", h.Count(t, bus.StewardStream, "steward.deletions.mastodon"), uint64(1))
}
