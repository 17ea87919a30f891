package readmodel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/chatnight/chatnight/pipeline/bursts"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/pipeline/threads"
	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

const (
	testCommunity = "antest"
	testNights    = 6
	testPosts     = 300
)

// firstNight is a Tuesday 20:30 in New York, the community's slot.
var firstNight = time.Date(2026, 1, 7, 1, 30, 0, 0, time.UTC)

// night is one generated session and its posts.
type night struct {
	id    string
	start time.Time
	posts []*post.Post
}

type fixture struct {
	conn   driver.Conn
	cm     *community.Community
	nights []night
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	fixtureErr  error
)

func testConfig(t testing.TB, id string) *community.Config {
	t.Helper()
	cfg, err := community.Parse("test", fmt.Appendf(nil, `
communities:
  - id: %s
    name: "#%s analytics test"
    hashtags: [%s]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
    hosts:
      sim: [%s_host]
`, id, id, id, id))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// load generates testNights weekly nights of the simulator, derives them as the
// processor does and writes them to the embedded ClickHouse, once per test binary.
func load(t testing.TB) *fixture {
	t.Helper()
	env := chdbtest.Start(t)
	fixtureOnce.Do(func() {
		cfg := testConfig(t, testCommunity)
		cm, _ := cfg.Lookup(testCommunity)
		f := &fixture{conn: env.Conn, cm: cm}
		mem := threads.NewMemory()
		at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		d := derive.New(cfg, mem, func() time.Time { at = at.Add(time.Millisecond); return at })
		w := storage.NewWriter(env.Conn, nil)
		ctx := context.Background()
		for i := range testNights {
			start := firstNight.AddDate(0, 0, 7*i)
			posts := simulator.Generate(simulator.Night{Community: cm, Seed: uint64(100 + i), Posts: testPosts, Start: start})
			f.nights = append(f.nights, night{id: sessions.ScheduledID(cm.ID, start), start: start, posts: posts})
			for j := 0; j < len(posts); j += 50 {
				b, err := d.Derive(ctx, posts[j:min(j+50, len(posts))])
				if err == nil {
					err = mem.Write(ctx, b)
				}
				if err == nil {
					err = bursts.WriteAndPlace(ctx, w, b)
				}
				if err != nil {
					fixtureErr = err
					return
				}
			}
		}
		shared = f
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return shared
}

func (f *fixture) session(t testing.TB, i int) readmodel.Session {
	t.Helper()
	s, ok, err := readmodel.New(f.conn).Session(context.Background(), f.nights[i].id)
	if err != nil || !ok {
		t.Fatalf("session %s: %v %v", f.nights[i].id, ok, err)
	}
	return s
}

// expected is what the generated posts say, computed in Go without ClickHouse.
type expected struct {
	posts, originals, replies, reposts, quotes uint64
	participants, newcomers                    uint64
	reach, impressions                         uint64
	authors                                    map[string]bool
}

func expect(f *fixture) []expected {
	first := map[string]time.Time{}
	for _, n := range f.nights {
		for _, p := range n.posts {
			if t, ok := first[p.Author.ID]; !ok || p.CreatedAt.Before(t) {
				first[p.Author.ID] = p.CreatedAt
			}
		}
	}
	out := make([]expected, len(f.nights))
	for i, n := range f.nights {
		e := &out[i]
		e.authors = map[string]bool{}
		followers := map[string]uint64{}
		for _, p := range n.posts {
			e.posts++
			switch p.Kind {
			case post.KindOriginal:
				e.originals++
			case post.KindReply:
				e.replies++
			case post.KindRepost:
				e.reposts++
			case post.KindQuote:
				e.quotes++
			}
			e.impressions += p.Author.Followers
			e.authors[p.Author.ID] = true
			followers[p.Author.ID] = max(followers[p.Author.ID], p.Author.Followers)
		}
		e.participants = uint64(len(e.authors))
		for a, fl := range followers {
			e.reach += fl
			if !first[a].Before(n.posts[0].CreatedAt) && !first[a].After(n.posts[len(n.posts)-1].CreatedAt) {
				e.newcomers++
			}
		}
	}
	return out
}

func TestSessionStatsMatchGeneratedNights(t *testing.T) {
	f := load(t)
	want := expect(f)
	an := readmodel.New(f.conn)
	for i := range f.nights {
		t.Run(f.nights[i].id, func(t *testing.T) {
			st, err := an.SessionStats(context.Background(), f.session(t, i), []string{testCommunity}, nil)
			if err != nil {
				t.Fatal(err)
			}
			w := want[i]
			for _, c := range []struct {
				name      string
				got, want uint64
			}{
				{"posts", st.Posts, w.posts}, {"originals", st.Originals, w.originals}, {"replies", st.Replies, w.replies},
				{"reposts", st.Reposts, w.reposts}, {"quotes", st.Quotes, w.quotes},
				{"participants", st.Counts.Participants, w.participants}, {"newcomers", st.Newcomers, w.newcomers},
				{"returning", st.Returning, w.participants - w.newcomers},
				{"potential reach", st.PotentialReach, w.reach}, {"impressions", st.Impressions, w.impressions},
			} {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
				}
			}
			if i == 0 && st.Newcomers != st.Counts.Participants {
				t.Errorf("first session: %d newcomers of %d participants", st.Newcomers, st.Counts.Participants)
			}
			var minutes uint64
			for _, m := range st.Activity {
				minutes += m.Posts
			}
			if minutes != w.posts {
				t.Errorf("activity sums to %d posts, want %d", minutes, w.posts)
			}
			if len(st.Questions) == 0 || st.Questions[0].Number != 1 || st.Questions[0].Answers == 0 {
				t.Errorf("questions: %+v", st.Questions)
			}
			if len(st.TopParticipants) == 0 || len(st.Languages) != 1 || st.Languages[0].Value != "en" || st.Sources[0].Value != "sim" {
				t.Errorf("top %v, languages %v, sources %v", st.TopParticipants, st.Languages, st.Sources)
			}
			for _, h := range st.Hashtags {
				if h.Value == testCommunity {
					t.Errorf("the community's own hashtag is listed as co-occurring")
				}
			}
			checkPageRank(t, f.nights[i].posts, st)
		})
	}
}

// edgesOf is the participant graph of posts, computed from the posts alone: replies,
// quotes and reposts point at the author of their parent, mentions at the account.
func edgesOf(posts []*post.Post) map[[2]string]float64 {
	w := map[[2]string]float64{}
	add := func(src, dst string) {
		if dst != "" && dst != src {
			w[[2]string{src, dst}]++
		}
	}
	for _, p := range posts {
		src := p.Author.ID
		if p.Kind == post.KindRepost {
			add(src, p.RepostOfAuthorID)
			continue
		}
		add(src, p.ReplyToAuthorID)
		add(src, p.QuoteOfAuthorID)
		for _, m := range p.Mentions {
			if m.ID != p.ReplyToAuthorID && m.ID != p.QuoteOfAuthorID {
				add(src, m.ID)
			}
		}
	}
	return w
}

// densePageRank is PageRank by power iteration over a dense transition matrix.
func densePageRank(w map[[2]string]float64) map[string]float64 {
	var ids []string
	seen := map[string]bool{}
	for k := range w {
		for _, id := range k {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	n := len(ids)
	idx := map[string]int{}
	for i, id := range ids {
		idx[id] = i
	}
	m := make([][]float64, n) // m[v][u]: share of u's rank going to v
	for i := range m {
		m[i] = make([]float64, n)
	}
	out := make([]float64, n)
	for k, x := range w {
		out[idx[k[0]]] += x
	}
	for k, x := range w {
		m[idx[k[1]]][idx[k[0]]] = x / out[idx[k[0]]]
	}
	for u := range n {
		if out[u] == 0 {
			for v := range n {
				m[v][u] = 1 / float64(n)
			}
		}
	}
	pr := make([]float64, n)
	for i := range pr {
		pr[i] = 1 / float64(n)
	}
	for range 1000 {
		next := make([]float64, n)
		for v := range n {
			s := 0.0
			for u := range n {
				s += m[v][u] * pr[u]
			}
			next[v] = 0.15/float64(n) + 0.85*s
		}
		pr = next
	}
	res := map[string]float64{}
	for i, id := range ids {
		res[id] = pr[i]
	}
	return res
}

func checkPageRank(t *testing.T, posts []*post.Post, st *readmodel.SessionStats) {
	t.Helper()
	w := edgesOf(posts)
	pr := densePageRank(w)
	if st.Network.Nodes != len(pr) || st.Network.Edges != len(w) {
		t.Errorf("network has %d nodes and %d edges, want %d and %d", st.Network.Nodes, st.Network.Edges, len(pr), len(w))
	}
	if len(st.Network.PerNode) == 0 {
		t.Fatal("no per-node metrics")
	}
	for _, nm := range st.Network.PerNode {
		if math.Abs(nm.PageRank-pr[nm.ID]) > 1e-6 {
			t.Errorf("PageRank of %s = %.8f, want %.8f", nm.ID, nm.PageRank, pr[nm.ID])
		}
	}
}

func TestCommunityStatsRetentionAndRegulars(t *testing.T) {
	f := load(t)
	want := expect(f)
	an := readmodel.New(f.conn)
	// All nights but the last: the last one is known and used for retention only.
	to := f.nights[testNights-1].start
	st, err := an.CommunityStats(context.Background(), testCommunity, firstNight.Add(-time.Hour), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions != testNights-1 || len(st.Series) != testNights-1 {
		t.Fatalf("%d sessions in the period, want %d", st.Sessions, testNights-1)
	}
	retention := func(i int, next int) *float64 {
		if i+next >= testNights {
			return nil
		}
		seen := 0
		for a := range want[i].authors {
			for j := i + 1; j <= i+next; j++ {
				if want[j].authors[a] {
					seen++
					break
				}
			}
		}
		v := float64(seen) / float64(len(want[i].authors))
		return &v
	}
	same := func(a, b *float64) bool {
		return (a == nil) == (b == nil) && (a == nil || math.Abs(*a-*b) < 1e-12)
	}
	unique := map[string]bool{}
	var posts uint64
	for i, pt := range st.Series {
		if pt.ID != f.nights[i].id || pt.Posts != want[i].posts || pt.Counts.Participants != want[i].participants || pt.Newcomers != want[i].newcomers {
			t.Errorf("series[%d] = %s %d posts %d participants %d newcomers, want %s %d %d %d", i, pt.ID, pt.Posts,
				pt.Counts.Participants, pt.Newcomers, f.nights[i].id, want[i].posts, want[i].participants, want[i].newcomers)
		}
		if w := retention(i, 1); !same(pt.RetentionNext, w) {
			t.Errorf("series[%d] retention next = %v, want %v", i, deref(pt.RetentionNext), deref(w))
		}
		if w := retention(i, 4); !same(pt.RetentionNext4, w) {
			t.Errorf("series[%d] retention next 4 = %v, want %v", i, deref(pt.RetentionNext4), deref(w))
		}
		for a := range want[i].authors {
			unique[a] = true
		}
		posts += want[i].posts
	}
	if st.Series[0].RetentionNext4 == nil {
		t.Error("the first session has four later ones: retention over four is known")
	}
	if st.Posts != posts || st.Participants != uint64(len(unique)) {
		t.Errorf("period: %d posts %d participants, want %d %d", st.Posts, st.Participants, posts, len(unique))
	}
	// Regulars: in at least half the period's sessions (and two).
	attended := map[string]int{}
	for i := 0; i < testNights-1; i++ {
		for a := range want[i].authors {
			attended[a]++
		}
	}
	var wantRegs []string
	for a, n := range attended {
		if n >= 3 {
			wantRegs = append(wantRegs, a)
		}
	}
	var gotRegs []string
	for _, r := range st.Regulars {
		gotRegs = append(gotRegs, r.ID)
	}
	sort.Strings(wantRegs)
	sort.Strings(gotRegs)
	if strings.Join(gotRegs, ",") != strings.Join(wantRegs, ",") {
		t.Errorf("regulars %v, want %v", gotRegs, wantRegs)
	}
	if st.Network.Nodes == 0 || st.Network.Communities == 0 {
		t.Errorf("period network: %+v", st.Network)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestOptOutHidesEverywhereInStats opts a regular out and checks that the session and
// community stats never name them, then opts them back in.
func TestOptOutHidesEverywhereInStats(t *testing.T) {
	f := load(t)
	ctx := context.Background()
	an := readmodel.New(f.conn)
	// The most active crowd member of the first night.
	counts := map[string]int{}
	for _, p := range f.nights[0].posts {
		counts[p.Author.Handle]++
	}
	handle := ""
	for h, n := range counts {
		if !strings.HasSuffix(h, "_host") && (handle == "" || n > counts[handle] || (n == counts[handle] && h < handle)) {
			handle = h
		}
	}
	list := optout.NewOptOuts(f.conn, nil)
	if err := list.Add(ctx, "@"+strings.ToUpper(handle)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Remove(context.Background(), handle) })
	subjects, err := list.List(ctx)
	if err != nil || !contains(subjects, handle) {
		t.Fatalf("list %v, %v: want %s", subjects, err, handle)
	}
	red, err := list.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := an.SessionStats(ctx, f.session(t, 0), nil, red)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := an.CommunityStats(ctx, testCommunity, firstNight.Add(-time.Hour), firstNight.AddDate(0, 1, 0), red)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"session": st, "community": cs} {
		data, _ := json.Marshal(v)
		if strings.Contains(strings.ToLower(string(data)), handle) {
			t.Errorf("%s stats name the opted-out %s", name, handle)
		}
		if !strings.Contains(string(data), red.Pseudonym("sim:"+handle)) {
			t.Errorf("%s stats do not show the pseudonym of %s", name, handle)
		}
	}
	// Counts are unchanged: nothing is deleted.
	plain, err := an.SessionStats(ctx, f.session(t, 0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Posts != st.Posts {
		t.Errorf("opting out changed the post count: %d, was %d", st.Posts, plain.Posts)
	}
	// A second loader (another process) uses the same pseudonym.
	red2, err := optout.NewOptOuts(f.conn, nil).Load(ctx)
	if err != nil || red2.Pseudonym("sim:"+handle) != red.Pseudonym("sim:"+handle) {
		t.Errorf("pseudonyms differ between loaders (%v)", err)
	}
	if err := list.Remove(ctx, handle); err != nil {
		t.Fatal(err)
	}
	if red, err = list.Load(ctx); err != nil || !red.Empty() {
		t.Errorf("after remove the list is not empty (%v)", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
