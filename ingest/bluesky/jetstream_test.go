package bluesky

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// fakeJetstream serves /subscribe; script runs each connection (numbered from 1).
type fakeJetstream struct {
	srv    *httptest.Server
	mu     sync.Mutex
	params []url.Values
	script func(t *testing.T, c *websocket.Conn, n int)
}

func newFakeJetstream(t *testing.T, script func(t *testing.T, c *websocket.Conn, n int)) *fakeJetstream {
	f := &fakeJetstream{script: script}
	up := websocket.Upgrader{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/subscribe" {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		f.mu.Lock()
		f.params = append(f.params, r.URL.Query())
		n := len(f.params)
		f.mu.Unlock()
		f.script(t, c, n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeJetstream) wsURL() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") }

func (f *fakeJetstream) connections() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.params...)
}

// holdOpen keeps a connection until the client leaves, answering its pings.
func holdOpen(c *websocket.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

func send(t *testing.T, c *websocket.Conn, events ...string) {
	for _, e := range events {
		if err := c.WriteMessage(websocket.TextMessage, []byte(e)); err != nil {
			t.Errorf("send: %v", err)
			return
		}
	}
}

const tUS = int64(1729557067000000) // 2024-10-22T00:31:07Z

func postEvent(did, rkey string, us int64, text string, facets string) string {
	created := time.UnixMicro(us - 300000).UTC().Format("2006-01-02T15:04:05.000Z")
	rec := fmt.Sprintf(`{"$type":"app.bsky.feed.post","createdAt":%q,"langs":["en"],"text":%q%s}`, created, text, facets)
	return fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"3l6rev%d","operation":"create","collection":"app.bsky.feed.post","rkey":%q,"record":%s,"cid":"bafyrei%s"}}`,
		did, us, us%1000, rkey, rec, rkey)
}

func repostEvent(did, rkey string, us int64, subject string) string {
	created := time.UnixMicro(us - 200000).UTC().Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"3l6rev%d","operation":"create","collection":"app.bsky.feed.repost","rkey":%q,"record":{"$type":"app.bsky.feed.repost","createdAt":%q,"subject":{"cid":"bafyreisubj","uri":%q}},"cid":"bafyrei%s"}}`,
		did, us, us%1000, rkey, created, subject, rkey)
}

func TestJetstreamFiltersResumesAndReconnects(t *testing.T) {
	h := ingesttest.New(t)
	p1 := RecordURI(didHost, CollectionPost, "3l6p1aaaaaaaa")
	p2 := RecordURI(didAna, CollectionPost, "3l6p2aaaaaaaa")
	tagFacet := `,"facets":[{"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"HCLDR"}],"index":{"byteEnd":18,"byteStart":12}}]`
	lastOfFirst := tUS + 9_000_000
	js := newFakeJetstream(t, func(t *testing.T, c *websocket.Conn, n int) {
		switch n {
		case 1:
			send(t, c,
				repostEvent(didRepost, "3l6r0aaaaaaaa", tUS+1_000_000, p1), // before its post
				`{"did":"`+didHost+`","time_us":`+strconv.FormatInt(tUS+1_500_000, 10)+`,"kind":"identity","identity":{"did":"`+didHost+`","handle":"HCLDR.bsky.social","seq":1,"time":"2024-10-22T00:31:08.5Z"}}`,
				postEvent(didHost, "3l6p1aaaaaaaa", tUS+2_000_000, "Q1 tonight: #HCLDR", tagFacet),
				postEvent(didAna, "3l6p2aaaaaaaa", tUS+3_000_000, "lunch was great", ""),
				repostEvent(didRepost, "3l6r1aaaaaaaa", tUS+4_000_000, p1),
				repostEvent(didRepost, "3l6r2aaaaaaaa", tUS+5_000_000, p2),
				`{"did":"`+didAna+`","time_us":`+strconv.FormatInt(tUS+6_000_000, 10)+`,"kind":"commit","commit":{"rev":"x","operation":"create","collection":"app.bsky.feed.like","rkey":"3l6like","record":{"$type":"app.bsky.feed.like","createdAt":"2024-10-22T00:31:13Z","subject":{"cid":"c","uri":"`+p1+`"}},"cid":"c"}}`,
				`{"did":"`+didHost+`","time_us":`+strconv.FormatInt(tUS+7_000_000, 10)+`,"kind":"commit","commit":{"rev":"y","operation":"delete","collection":"app.bsky.feed.post","rkey":"3l6p1aaaaaaaa"}}`,
				`{"did":"`+didAna+`","time_us":`+strconv.FormatInt(lastOfFirst, 10)+`,"kind":"commit","commit":{"rev":"z","operation":"create","collection":"app.bsky.feed.post","rkey":"3l6bad","record":"#hcldr in a record that is a string","cid":"c"}}`,
				// Out of time order, and tagged only in record.tags.
				postEvent(didClinic, "3l6p4aaaaaaaa", tUS+2_500_000, "Readmissions chart", `,"tags":["HITsm"]`),
			)
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "restart"))
		case 2:
			send(t, c, postEvent(didAna, "3l6p5aaaaaaaa", tUS+10_000_000, "A1 from a nurse #hcldr", ""))
			holdOpen(c)
		default:
			holdOpen(c)
		}
	})
	appview := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/xrpc/app.bsky.actor.getProfile" && r.URL.Query().Get("actor") == didAna {
			fmt.Fprintf(w, `{"did":%q,"handle":"ana.nurses.example","displayName":"Ana, RN","followersCount":321,"description":"Oncology nurse (RN). Views mine."}`, didAna)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"InvalidRequest","message":"Profile not found"}`)
	}))
	t.Cleanup(appview.Close)

	newSource := func() (*Jetstream, *ingesttest.Sleeps) {
		j, err := NewJetstream(JetstreamConfig{
			URL: js.wsURL(), Communities: testCommunities, Cursors: h.Cursors,
			Profiles: NewProfiles(appview.URL, appview.Client(), h.Logger),
			Metrics:  h.Metrics, Log: h.Logger, SaveEvery: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		sl := &ingesttest.Sleeps{}
		j.sleep = sl.Sleep
		return j, sl
	}
	j, sl := newSource()
	stop := ingesttest.Run(t, j, h.Emitter)
	want := strconv.FormatInt(tUS+10_000_000, 10)
	ingesttest.WaitFor(t, 10*time.Second, "cursor after the second connection", func() bool { return h.Cursor(t, JetstreamCursorKey) == want })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	conns := js.connections()
	if len(conns) != 2 {
		t.Fatalf("connections = %d, want 2", len(conns))
	}
	eq(t, "wantedCollections", conns[0]["wantedCollections"], []string{CollectionPost, CollectionRepost})
	eq(t, "first cursor", conns[0].Get("cursor"), "")
	eq(t, "resume cursor", conns[1].Get("cursor"), strconv.FormatInt(lastOfFirst-5_000_000, 10))
	eq(t, "one backoff wait before reconnecting", len(sl.List()), 1)

	eq(t, "#hcldr posts", h.Count(t, bus.PostsStream, "posts.hcldr.bluesky"), uint64(4)) // p1, r0, r1, p5
	eq(t, "#hitsm posts", h.Count(t, bus.PostsStream, "posts.hitsm.bluesky"), uint64(1))
	eq(t, "dead letters", h.Count(t, bus.DeadLetterStream, "deadletter.ingest.bluesky"), uint64(1))

	got := h.Posts(t, "posts.hcldr.bluesky", 4)
	byRkey := func(did, coll, rkey string) *post.Post {
		p := got[PostID(RecordURI(did, coll, rkey))]
		if p == nil {
			t.Fatalf("%s/%s not stored; have %v", did, rkey, keys(got))
		}
		return p
	}
	eq(t, "p1 handle from the identity event", byRkey(didHost, CollectionPost, "3l6p1aaaaaaaa").Author.Handle, "hcldr.bsky.social")
	eq(t, "p5 author from getProfile", byRkey(didAna, CollectionPost, "3l6p5aaaaaaaa").Author,
		post.Account{ID: "bluesky:" + didAna, Handle: "ana.nurses.example", Name: "Ana, RN", Followers: 321, Bio: "Oncology nurse (RN). Views mine.", Consent: &post.Consent{}})

	// The host deleted p1, a post this source published: reported, once. The reconnect
	// resumed from the cursor (a replay on record) and the bad record is on record too.
	var dels []string
	for _, m := range h.Env.Messages(t, bus.StewardStream, "steward.deletions.bluesky", 1, 5*time.Second) {
		ds, bad := steward.Decode(m.Data(), (*steward.Deletion).Validate)
		for _, d := range ds {
			dels = append(dels, d.PostID+" "+d.Reason+" "+d.At.UTC().Format(time.RFC3339Nano))
		}
		eq(t, "bad deletions", len(bad), 0)
	}
	eq(t, "deletions", dels, []string{"bluesky:" + p1 + " jetstream delete " + time.UnixMicro(tUS+7_000_000).UTC().Format(time.RFC3339Nano)})
	var kinds []string
	for _, m := range h.Env.Messages(t, bus.StewardStream, "steward.completeness.bluesky", 2, 5*time.Second) {
		es, _ := steward.Decode(m.Data(), (*steward.Event).Validate)
		for _, e := range es {
			kinds = append(kinds, e.Kind+" from "+e.From.UTC().Format(time.RFC3339Nano))
		}
	}
	sort.Strings(kinds)
	eq(t, "completeness events", kinds[1], "replay from "+time.UnixMicro(lastOfFirst-5_000_000).UTC().Format(time.RFC3339Nano))
	eq(t, "dead letter on record", strings.HasPrefix(kinds[0], "dead_letter from "), true)
	r0 := byRkey(didRepost, CollectionRepost, "3l6r0aaaaaaaa")
	eq(t, "early repost kept", r0.RepostOfID, "bluesky:"+p1)
	eq(t, "early repost routed by its post's tags", r0.Hashtags, []string{"hcldr"})
	eq(t, "unknown handle stays the DID", byRkey(didRepost, CollectionRepost, "3l6r1aaaaaaaa").Author.Handle, didRepost)

	// A new process resumes from the saved cursor, 5 s early.
	j2, _ := newSource()
	stop2 := ingesttest.Run(t, j2, h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "third connection", func() bool { return len(js.connections()) == 3 })
	_ = stop2()
	eq(t, "restart cursor", js.connections()[2].Get("cursor"), strconv.FormatInt(tUS+10_000_000-5_000_000, 10))
}

func keys(m map[string]*post.Post) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestJetstreamURL(t *testing.T) {
	for in, want := range map[string]string{
		"wss://jetstream2.us-east.bsky.network":             "wss://jetstream2.us-east.bsky.network/subscribe",
		"wss://jetstream2.us-east.bsky.network/":            "wss://jetstream2.us-east.bsky.network/subscribe",
		"wss://js.example/subscribe?compress=false":         "wss://js.example/subscribe",
		"ws://127.0.0.1:6008/subscribe?wantedCollections=x": "ws://127.0.0.1:6008/subscribe",
	} {
		j, err := NewJetstream(JetstreamConfig{URL: in, Cursors: &cursorStub})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(j.subscribeURL())
		eq(t, in, u.Scheme+"://"+u.Host+u.Path, want)
		eq(t, in+" collections", u.Query()["wantedCollections"], []string{CollectionPost, CollectionRepost})
		eq(t, in+" no cursor", u.Query().Has("cursor"), false)
	}
	for _, bad := range []string{"https://jetstream.example", "jetstream.example", ":"} {
		if _, err := NewJetstream(JetstreamConfig{URL: bad, Cursors: &cursorStub}); err == nil {
			t.Errorf("NewJetstream(%q) accepted", bad)
		}
	}
}

func TestProfilesBestEffort(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	down := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		d := down
		mu.Unlock()
		if d {
			http.Error(w, "upstream", http.StatusBadGateway)
			return
		}
		did := r.URL.Query().Get("actor")
		if did == "did:plc:gone" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"InvalidRequest","message":"Profile not found"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"did": did, "handle": "X.example", "followersCount": -1})
	}))
	t.Cleanup(srv.Close)
	now := time.Date(2024, 10, 22, 0, 0, 0, 0, time.UTC)
	p := NewProfiles(srv.URL, srv.Client(), nil)
	p.now = func() time.Time { return now }
	ctx := t.Context()

	if _, ok := p.Resolve(ctx, didAna); ok {
		t.Fatal("resolved while the API is down")
	}
	if _, ok := p.Resolve(ctx, didHost); ok {
		t.Fatal("resolved while paused")
	}
	eq(t, "calls while paused", calls, 1)

	mu.Lock()
	down = false
	mu.Unlock()
	now = now.Add(outagePause + time.Second)
	pr, ok := p.Resolve(ctx, didAna)
	eq(t, "resolved", ok, true)
	eq(t, "profile", pr, Profile{Handle: "x.example", LabelsKnown: true})
	_, _ = p.Resolve(ctx, didAna)
	eq(t, "cached", calls, 2)

	_, ok = p.Resolve(ctx, "did:plc:gone")
	_, ok2 := p.Resolve(ctx, "did:plc:gone")
	eq(t, "not found, asked once", []any{ok, ok2, calls}, []any{false, false, 3})

	p.Note(didHost, "New.Handle.example")
	pr, _ = p.Get(didHost)
	eq(t, "noted", pr.Handle, "new.handle.example")

	var nilP *Profiles
	if _, ok := nilP.Resolve(ctx, didAna); ok {
		t.Error("nil Profiles resolved")
	}
	nilP.Note(didAna, "x.example")
}

// TestProfileSelfLabel: the !no-unauthenticated label counts only as the account's own
// (its src is the account's DID), and makes the author's consent noindex.
func TestProfileSelfLabel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		did := r.URL.Query().Get("actor")
		src := did
		if did == didHost {
			src = "did:plc:someonelse" // a label another labeller put on the account
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"did": did, "handle": "h" + did[len(did)-4:] + ".example",
			"labels": []map[string]string{{"src": src, "val": "!no-unauthenticated"}}})
	}))
	t.Cleanup(srv.Close)
	p := NewProfiles(srv.URL, srv.Client(), nil)
	ana, _ := p.Resolve(t.Context(), didAna)
	host, _ := p.Resolve(t.Context(), didHost)
	eq(t, "self-labelled", []bool{ana.NoUnauthenticated, ana.LabelsKnown}, []bool{true, true})
	eq(t, "labelled by another", []bool{host.NoUnauthenticated, host.LabelsKnown}, []bool{false, true})
	ps := Parser{Profile: func(did string) (Profile, bool) { return map[string]Profile{didAna: ana, didHost: host}[did], true }}
	eq(t, "consent of ana", *ps.account(didAna, "").Consent, post.Consent{NoIndex: true})
	eq(t, "consent of host", *ps.account(didHost, "").Consent, post.Consent{})
}
