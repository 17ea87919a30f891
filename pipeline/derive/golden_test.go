package derive

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

var update = flag.Bool("update", false, "rewrite testdata/chatnight.golden.json")

// The recorded chat night: #HCLDR (scheduled, hosts on three networks), #HITsm
// (scheduled) and #healthequity (unscheduled, two bursts), in arrival order.
const (
	nightFile  = "testdata/chatnight.jsonl"
	configFile = "testdata/communities.yaml"
	goldenFile = "testdata/chatnight.golden.json"
)

func loadNight(t testing.TB) (*community.Config, []*post.Post) {
	t.Helper()
	cfg, err := community.Load(configFile)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(nightFile)
	if err != nil {
		t.Fatal(err)
	}
	posts, bad := post.Decode(data)
	if len(bad) > 0 {
		t.Fatalf("%s: bad line %d: %v", nightFile, bad[0].Line, bad[0].Err)
	}
	return cfg, posts
}

// tables holds what the tables hold after FINAL: the last version of each key.
type tables struct {
	mem      *threads.Memory // posts, and the Lookup over them
	sessions map[[2]string]storage.SessionRow
	marks    map[markKey]storage.QAMarkRow
	edges    map[edgeKey]storage.EdgeRow
}

type markKey struct {
	community, session, kind, post string
	number                         uint16
}
type edgeKey struct{ community, session, kind, src, dst, post string }

func newTables() *tables {
	return &tables{
		mem:      threads.NewMemory(),
		sessions: map[[2]string]storage.SessionRow{},
		marks:    map[markKey]storage.QAMarkRow{},
		edges:    map[edgeKey]storage.EdgeRow{},
	}
}

// write applies b as the Writer would, table by table, each a ReplacingMergeTree(version).
func (tb *tables) write(t testing.TB, b *storage.Batch) {
	t.Helper()
	for _, s := range b.Sessions {
		k := [2]string{s.Community, s.ID}
		if old, ok := tb.sessions[k]; !ok || old.Version <= s.Version {
			tb.sessions[k] = s
		}
	}
	if err := tb.mem.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for _, m := range b.QAMarks {
		k := markKey{m.Community, m.SessionID, m.Kind, m.PostID, m.Number}
		if old, ok := tb.marks[k]; !ok || old.Version <= m.Version {
			tb.marks[k] = m
		}
	}
	for _, e := range b.Edges {
		k := edgeKey{e.Community, e.SessionID, e.Kind, e.Src, e.Dst, e.PostID}
		if old, ok := tb.edges[k]; !ok || old.Version <= e.Version {
			tb.edges[k] = e
		}
	}
}

// The final state, as the views show it.
type (
	goldenState struct {
		Sessions []goldenSession `json:"sessions"`
		Posts    []goldenPost    `json:"posts"`
		Threads  []goldenThread  `json:"threads"`
		QA       []goldenQA      `json:"qa"`
		Edges    []goldenEdge    `json:"edges"`
	}
	goldenSession struct {
		Community string   `json:"community"`
		ID        string   `json:"id"`
		Kind      string   `json:"kind"`
		Start     string   `json:"start"`
		End       string   `json:"end"`
		Hosts     []string `json:"hosts,omitempty"`
		Cells     []string `json:"cells,omitempty"`
	}
	goldenPost struct {
		Community string `json:"community"`
		ID        string `json:"id"`
		Session   string `json:"session"`
		Root      string `json:"root"`
		Depth     uint16 `json:"depth"`
		Host      bool   `json:"host,omitempty"`
		ReplyTo   string `json:"reply_to_author,omitempty"`
	}
	goldenThread struct {
		Community    string `json:"community"`
		Root         string `json:"root"`
		Session      string `json:"session"`
		Size         int    `json:"size"`
		MaxDepth     uint16 `json:"max_depth"`
		Participants int    `json:"participants"`
	}
	goldenQA struct {
		Community string `json:"community"`
		Session   string `json:"session"` // resolved, as in qa_resolved
		Kind      string `json:"kind"`
		Number    uint16 `json:"number"`
		Post      string `json:"post"`
		Question  string `json:"question,omitempty"` // for answers: the question post
	}
	goldenEdge struct {
		Community string `json:"community"`
		Session   string `json:"session"` // resolved, as in edges_resolved
		Src       string `json:"src"`
		Dst       string `json:"dst"`
		Kind      string `json:"kind"`
		Weight    int    `json:"weight"`
	}
)

const goldenTime = "2006-01-02T15:04:05.000Z"

// state computes what the views of migrations 0001 and 0002 show over tb.
func (tb *tables) state(cfg *community.Config) goldenState {
	var st goldenState
	posts := tb.mem.All()
	sort.Slice(posts, func(i, j int) bool {
		a, b := posts[i], posts[j]
		if a.Community != b.Community {
			return a.Community < b.Community
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})

	// Sessions: scheduled rows, and detected sessions (detected_sessions) over cells.
	resolve := map[string]string{} // cell -> detected session
	for _, s := range tb.sessions {
		if s.Kind == sessions.KindScheduled {
			st.Sessions = append(st.Sessions, goldenSession{
				Community: s.Community, ID: s.ID, Kind: s.Kind,
				Start: s.Start.Format(goldenTime), End: s.End.Format(goldenTime), Hosts: s.Hosts,
			})
		}
	}
	byCommunity := map[string][]storage.PostRow{}
	for _, p := range posts {
		if sessions.IsCellID(p.SessionID) {
			byCommunity[p.Community] = append(byCommunity[p.Community], p)
		}
	}
	for c, ps := range byCommunity {
		cm, _ := cfg.Lookup(c)
		times := make([]time.Time, len(ps))
		for i, p := range ps {
			times[i] = p.CreatedAt
		}
		for _, d := range sessions.Detect(c, sessions.Gap(cm), times) {
			gs := goldenSession{Community: c, ID: d.ID, Kind: d.Kind, Start: d.Start.Format(goldenTime), End: d.End.Format(goldenTime)}
			for _, p := range ps {
				if !p.CreatedAt.Before(d.Start) && !p.CreatedAt.After(d.End) {
					if resolve[p.SessionID] == "" {
						gs.Cells = append(gs.Cells, p.SessionID)
					}
					resolve[p.SessionID] = d.ID
				}
			}
			st.Sessions = append(st.Sessions, gs)
		}
	}
	resolved := func(s string) string {
		if r, ok := resolve[s]; ok {
			return r
		}
		return s
	}

	// Posts and the threads view.
	type threadAcc struct {
		goldenThread
		first   time.Time
		authors map[string]bool
	}
	threadsByRoot := map[[2]string]*threadAcc{}
	for _, p := range posts {
		st.Posts = append(st.Posts, goldenPost{
			Community: p.Community, ID: p.ID, Session: p.SessionID, Root: p.RootID, Depth: p.Depth,
			Host: p.IsHost, ReplyTo: p.ReplyToAuthorID,
		})
		if p.Kind == string(post.KindRepost) || p.RootID == "" {
			continue
		}
		k := [2]string{p.Community, p.RootID}
		acc := threadsByRoot[k]
		if acc == nil {
			acc = &threadAcc{goldenThread: goldenThread{Community: p.Community, Root: p.RootID, Session: p.SessionID}, first: p.CreatedAt, authors: map[string]bool{}}
			threadsByRoot[k] = acc
		}
		acc.Size++
		acc.MaxDepth = max(acc.MaxDepth, p.Depth)
		acc.authors[p.AuthorID] = true
		if p.CreatedAt.Before(acc.first) {
			acc.first, acc.Session = p.CreatedAt, p.SessionID
		}
	}
	for _, acc := range threadsByRoot {
		if acc.Size < 2 {
			continue // a post nobody replied to: in the view, but not worth a golden line
		}
		acc.Participants = len(acc.authors)
		st.Threads = append(st.Threads, acc.goldenThread)
	}

	// qa_resolved: answers link to the earliest question of their session and number.
	type qkey struct {
		community, session string
		number             uint16
	}
	questions := map[qkey]storage.QAMarkRow{}
	for _, m := range tb.marks {
		if m.Kind != "question" {
			continue
		}
		k := qkey{m.Community, resolved(m.SessionID), m.Number}
		q, ok := questions[k]
		if !ok || m.CreatedAt.Before(q.CreatedAt) || (m.CreatedAt.Equal(q.CreatedAt) && m.PostID < q.PostID) {
			questions[k] = m
		}
	}
	for _, m := range tb.marks {
		g := goldenQA{Community: m.Community, Session: resolved(m.SessionID), Kind: m.Kind, Number: m.Number, Post: m.PostID}
		if m.Kind == "answer" {
			g.Question = questions[qkey{m.Community, g.Session, m.Number}].PostID
		}
		st.QA = append(st.QA, g)
	}

	// edges_resolved: weights counted per session.
	weights := map[goldenEdge]int{}
	for _, e := range tb.edges {
		weights[goldenEdge{Community: e.Community, Session: resolved(e.SessionID), Src: e.Src, Dst: e.Dst, Kind: e.Kind}]++
	}
	for e, w := range weights {
		e.Weight = w
		st.Edges = append(st.Edges, e)
	}
	st.sort()
	return st
}

// sort puts every section in a fixed order.
func (st *goldenState) sort() {
	by := func(n int, key func(i int) string, swap func(i, j int)) {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = key(i)
		}
		sort.Sort(keyed{keys, swap})
	}
	by(len(st.Sessions), func(i int) string { return st.Sessions[i].Community + "\x00" + st.Sessions[i].ID },
		func(i, j int) { st.Sessions[i], st.Sessions[j] = st.Sessions[j], st.Sessions[i] })
	by(len(st.Posts), func(i int) string { return st.Posts[i].Community + "\x00" + st.Posts[i].ID },
		func(i, j int) { st.Posts[i], st.Posts[j] = st.Posts[j], st.Posts[i] })
	by(len(st.Threads), func(i int) string { return st.Threads[i].Community + "\x00" + st.Threads[i].Root },
		func(i, j int) { st.Threads[i], st.Threads[j] = st.Threads[j], st.Threads[i] })
	by(len(st.QA), func(i int) string {
		a := st.QA[i]
		return fmt.Sprintf("%s\x00%s\x00%s\x00%03d\x00%s", a.Community, a.Session, a.Kind, a.Number, a.Post)
	}, func(i, j int) { st.QA[i], st.QA[j] = st.QA[j], st.QA[i] })
	by(len(st.Edges), func(i int) string {
		a := st.Edges[i]
		return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s", a.Community, a.Session, a.Src, a.Dst, a.Kind)
	}, func(i, j int) { st.Edges[i], st.Edges[j] = st.Edges[j], st.Edges[i] })
}

// keyed sorts by precomputed keys, swapping the data alongside.
type keyed struct {
	keys []string
	swap func(i, j int)
}

func (k keyed) Len() int           { return len(k.keys) }
func (k keyed) Less(i, j int) bool { return k.keys[i] < k.keys[j] }
func (k keyed) Swap(i, j int) {
	k.keys[i], k.keys[j] = k.keys[j], k.keys[i]
	k.swap(i, j)
}

// clock is a fake now that moves forward a millisecond per call.
func clock() func() time.Time {
	t := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

// replay derives and writes posts in batches of size n.
func replay(t testing.TB, d *Deriver, tb *tables, posts []*post.Post, n int) {
	t.Helper()
	for i := 0; i < len(posts); i += n {
		b, err := d.Derive(context.Background(), posts[i:min(i+n, len(posts))])
		if err != nil {
			t.Fatal(err)
		}
		tb.write(t, b)
	}
}

func shuffled(posts []*post.Post, seed int64) []*post.Post {
	out := append([]*post.Post(nil), posts...)
	rand.New(rand.NewSource(seed)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func reversed(posts []*post.Post) []*post.Post {
	out := make([]*post.Post, len(posts))
	for i, p := range posts {
		out[len(posts)-1-i] = p
	}
	return out
}

// TestGoldenChatNight replays the recorded night in order, shuffled, reversed, in
// different batch splits and with redeliveries, and checks that the tables end the
// same, and as recorded in the golden file.
func TestGoldenChatNight(t *testing.T) {
	cfg, posts := loadNight(t)
	if len(posts) < 150 {
		t.Fatalf("%s has %d posts", nightFile, len(posts))
	}
	scenarios := []struct {
		name string
		run  func(t *testing.T, d *Deriver, tb *tables)
	}{
		{"recorded/one-by-one", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, posts, 1) }},
		{"recorded/one-batch", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, posts, len(posts)) }},
		{"recorded/16", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, posts, 16) }},
		{"reversed/5", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, reversed(posts), 5) }},
		{"reversed/one-by-one", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, reversed(posts), 1) }},
		{"shuffle1/one-by-one", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, shuffled(posts, 1), 1) }},
		{"shuffle2/9", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, shuffled(posts, 2), 9) }},
		{"shuffle3/40", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, shuffled(posts, 3), 40) }},
		{"shuffle4/one-batch", func(t *testing.T, d *Deriver, tb *tables) { replay(t, d, tb, shuffled(posts, 4), len(posts)) }},
		{"redelivered", func(t *testing.T, d *Deriver, tb *tables) {
			// Batches of 10; after each, a crash redelivers an overlapping window cut
			// differently, as JetStream does for unacknowledged messages.
			for i := 0; i < len(posts); i += 10 {
				replay(t, d, tb, posts[i:min(i+10, len(posts))], 10)
				replay(t, d, tb, posts[max(0, i-7):min(i+3, len(posts))], 3)
			}
		}},
		{"shuffled-redelivered", func(t *testing.T, d *Deriver, tb *tables) {
			s := shuffled(posts, 5)
			replay(t, d, tb, s, 7)
			replay(t, d, tb, shuffled(posts, 6)[:60], 11)
		}},
	}
	var want goldenState
	var wantName string
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			tb := newTables()
			sc.run(t, New(cfg, tb.mem, clock()), tb)
			got := tb.state(cfg)
			if wantName == "" {
				want, wantName = got, sc.name
				checkGolden(t, got)
				checkNight(t, got)
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("final state differs from %s's:\n%s", wantName, diffStates(want, got))
			}
		})
	}
}

func checkGolden(t *testing.T, got goldenState) {
	t.Helper()
	data, err := json.MarshalIndent(got, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	if *update {
		if err := os.WriteFile(goldenFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline/derive -run Golden -update to create it)", err)
	}
	if !bytes.Equal(want, data) {
		var w goldenState
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		t.Errorf("final state differs from %s (rerun with -update if the change is intended):\n%s", filepath.Base(goldenFile), diffStates(w, got))
	}
}

// checkNight spot-checks the golden state against what the night is known to contain,
// so that -update cannot bless nonsense.
func checkNight(t *testing.T, st goldenState) {
	t.Helper()
	kinds := map[string]int{}
	for _, s := range st.Sessions {
		kinds[s.Community+"/"+s.Kind]++
	}
	if kinds["hcldr/scheduled"] != 1 || kinds["hitsm/scheduled"] != 1 || kinds["healthequity/detected"] != 2 {
		t.Errorf("sessions: %v, want one scheduled session each for hcldr and hitsm and two detected for healthequity", kinds)
	}
	for _, s := range st.Sessions {
		if s.Community == "hcldr" && s.Kind == "scheduled" && s.ID != "hcldr-20261125T013000Z" {
			t.Errorf("hcldr session %s, want hcldr-20261125T013000Z", s.ID)
		}
	}
	outside, offSchedule, deep := 0, 0, 0
	for _, p := range st.Posts {
		if p.Session == "" {
			outside++
		}
		if (p.Community == "hcldr" || p.Community == "hitsm") && sessions.IsCellID(p.Session) {
			offSchedule++
		}
		if p.Depth >= 3 {
			deep++
		}
	}
	if outside != 0 || offSchedule != 4 {
		t.Errorf("%d posts outside any session and %d off schedule, want 0 and 4 (in detected sessions)", outside, offSchedule)
	}
	if deep == 0 {
		t.Error("no post at depth 3 or more")
	}
	questions, linked, unlinked := 0, 0, 0
	for _, q := range st.QA {
		switch {
		case q.Kind == "question":
			questions++
		case q.Kind == "answer" && q.Question != "":
			linked++
		case q.Kind == "answer":
			unlinked++
		}
	}
	if questions < 10 || linked < 80 || unlinked > 0 {
		t.Errorf("qa: %d questions, %d linked answers, %d answers without question", questions, linked, unlinked)
	}
	heavy := false
	for _, e := range st.Edges {
		if e.Weight > 1 {
			heavy = true
		}
	}
	if !heavy {
		t.Error("no edge of weight > 1")
	}
}

// diffStates lists the items of each section found in only one of the states.
func diffStates(want, got goldenState) string {
	var out bytes.Buffer
	section := func(name string, w, g any) {
		lines := func(v any) map[string]bool {
			m := map[string]bool{}
			rv := reflect.ValueOf(v)
			for i := 0; i < rv.Len(); i++ {
				b, _ := json.Marshal(rv.Index(i).Interface())
				m[string(b)] = true
			}
			return m
		}
		wl, gl := lines(w), lines(g)
		n := 0
		for _, l := range slices.Sorted(maps.Keys(wl)) {
			if !gl[l] && n < 15 {
				fmt.Fprintf(&out, "%s: only in want: %s\n", name, l)
				n++
			}
		}
		for _, l := range slices.Sorted(maps.Keys(gl)) {
			if !wl[l] && n < 30 {
				fmt.Fprintf(&out, "%s: only in got:  %s\n", name, l)
				n++
			}
		}
	}
	section("sessions", want.Sessions, got.Sessions)
	section("posts", want.Posts, got.Posts)
	section("threads", want.Threads, got.Threads)
	section("qa", want.QA, got.QA)
	section("edges", want.Edges, got.Edges)
	if out.Len() == 0 {
		return "(same items, different order)"
	}
	return out.String()
}
