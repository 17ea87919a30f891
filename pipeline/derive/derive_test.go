package derive

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/qa"
	"github.com/chatnight/chatnight/pipeline/threads"
)

func TestDeriveLive(t *testing.T) {
	cfg, _ := loadNight(t)
	mem := threads.NewMemory()
	d := New(cfg, mem, clock())
	at := time.Date(2026, 11, 25, 1, 40, 0, 0, time.UTC) // in the #HCLDR session
	host := post.Account{ID: "x:1", Handle: "colin_hung"}
	q := &post.Post{ID: "x:10", Source: post.SourceX, Community: "hcldr", Kind: post.KindOriginal, Author: host, CreatedAt: at, Text: "Q1: What now?"}
	reply := &post.Post{ID: "x:11", Source: post.SourceX, Community: "hcldr", Kind: post.KindReply, Author: post.Account{ID: "x:2", Handle: "ana"},
		CreatedAt: at.Add(time.Minute), Text: "Listening more", ReplyToID: "x:10", ReplyToAuthorID: "x:1", RootID: "x:10"}
	deeper := &post.Post{ID: "x:12", Source: post.SourceX, Community: "hcldr", Kind: post.KindReply, Author: host,
		CreatedAt: at.Add(2 * time.Minute), Text: "Thanks @ana", ReplyToID: "x:11", ReplyToAuthorID: "x:2", RootID: "x:10",
		Mentions: []post.Account{{ID: "x:2", Handle: "ana"}}}
	ctx := context.Background()

	// The replies arrive first, the deeper one twice; the question is not known yet.
	res, err := d.DeriveLive(ctx, []*post.Post{deeper, reply, deeper})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Batch.Posts) != 2 || len(res.Live) != 2 {
		t.Fatalf("got %d posts, %d live entries; want the duplicate dropped", len(res.Batch.Posts), len(res.Live))
	}
	if l := res.Live[0]; l.PostID != "x:12" || l.SessionID != "hcldr-20261125T013000Z" || l.RootID != "x:10" || l.Depth != 2 || !l.IsHost {
		t.Errorf("live %+v", l)
	}
	if len(res.Batch.QAMarks) != 0 {
		t.Errorf("marks before the question is known: %+v", res.Batch.QAMarks)
	}
	if len(res.Batch.Sessions) != 1 || res.Batch.Sessions[0].Kind != "scheduled" {
		t.Errorf("sessions %+v", res.Batch.Sessions)
	}
	mem.Write(ctx, res.Batch)

	// The question arrives: the stored reply is now an implied answer to Q1.
	res, err = d.DeriveLive(ctx, []*post.Post{q})
	if err != nil {
		t.Fatal(err)
	}
	var marks []string
	for _, m := range res.Batch.QAMarks {
		marks = append(marks, fmt.Sprintf("%s %s %d", m.PostID, m.Kind, m.Number))
	}
	if fmt.Sprint(marks) != "[x:10 question 1 x:11 answer 1]" {
		t.Errorf("marks %v", marks)
	}
	if len(res.Live) != 2 || res.Live[1].PostID != "x:11" || res.Live[1].Rethreaded ||
		len(res.Live[1].Marks) != 1 || res.Live[1].Marks[0] != (LiveMark{Kind: qa.Answer, Number: 1}) {
		t.Errorf("live %+v", res.Live)
	}
	if len(res.Batch.Posts) != 1 {
		t.Errorf("X replies carry their root: nothing to place again, got %d posts", len(res.Batch.Posts))
	}
}

func TestDeriveRethreads(t *testing.T) {
	cfg, _ := loadNight(t)
	mem := threads.NewMemory()
	d := New(cfg, mem, clock())
	at := time.Date(2026, 11, 25, 1, 40, 0, 0, time.UTC)
	m := func(id, parent string, min int) *post.Post {
		return &post.Post{ID: "mastodon:" + id, Source: post.SourceMastodon, Community: "hcldr", Author: post.Account{ID: "mastodon:u" + id, Handle: "u" + id},
			CreatedAt: at.Add(time.Duration(min) * time.Minute), Text: "hello", ReplyToID: parent}
	}
	ctx := context.Background()
	child := m("2", "mastodon:1", 1)
	child.Normalize()
	b, err := d.Derive(ctx, []*post.Post{child})
	if err != nil {
		t.Fatal(err)
	}
	mem.Write(ctx, b)
	stored := b.Posts[0]
	if stored.RootID != "mastodon:1" || stored.Depth != 1 || len(b.Edges) != 0 {
		t.Fatalf("provisional placement %s/%d, edges %v", stored.RootID, stored.Depth, b.Edges)
	}

	parent := m("1", "mastodon:0", 0)
	parent.Normalize()
	res, err := d.DeriveLive(ctx, []*post.Post{parent})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Batch.Posts) != 2 {
		t.Fatalf("posts %+v", res.Batch.Posts)
	}
	moved := res.Batch.Posts[1]
	if moved.ID != "mastodon:2" || moved.RootID != "mastodon:0" || moved.Depth != 2 || moved.ReplyToAuthorID != "mastodon:u1" ||
		moved.SessionID != stored.SessionID || moved.Version <= stored.Version {
		t.Errorf("moved %+v", moved)
	}
	if len(res.Batch.Edges) != 1 || res.Batch.Edges[0].Src != "mastodon:u2" || res.Batch.Edges[0].Dst != "mastodon:u1" {
		t.Errorf("edges %+v: want the reply edge learnt from the parent", res.Batch.Edges)
	}
	if len(res.Live) != 2 || !res.Live[1].Rethreaded || res.Live[1].RootID != "mastodon:0" {
		t.Errorf("live %+v", res.Live)
	}
}

func TestDeriveUnknownCommunity(t *testing.T) {
	cfg, _ := loadNight(t)
	d := New(cfg, threads.NewMemory(), clock())
	p := &post.Post{ID: "sim:1", Source: post.SourceSim, Community: "elsewhere", Kind: post.KindOriginal, Author: post.Account{ID: "sim:a", Handle: "a"},
		CreatedAt: time.Date(2026, 11, 25, 1, 40, 0, 0, time.UTC), Text: "Q1: anyone may ask here"}
	b, err := d.Derive(context.Background(), []*post.Post{p})
	if err != nil {
		t.Fatal(err)
	}
	if b.Posts[0].SessionID != "elsewhere-C20261125T013000Z" || len(b.QAMarks) != 1 || b.Sessions[0].Kind != "cell" {
		t.Errorf("batch %+v", b)
	}
}

func TestRecordedOrderHasEarlyReplies(t *testing.T) {
	_, posts := loadNight(t)
	seen := map[string]bool{}
	early := 0
	ids := map[string]bool{}
	for _, p := range posts {
		ids[p.ID] = true
	}
	for _, p := range posts {
		if p.ReplyToID != "" && ids[p.ReplyToID] && !seen[p.ReplyToID] {
			early++
		}
		seen[p.ID] = true
	}
	if early < 3 {
		t.Errorf("%d replies arrive before their parent in %s, want a few", early, nightFile)
	}
}

// BenchmarkDerive derives 5,000-post batches: the recorded night copied into
// successive weeks, against an in-memory store holding the previous batches.
func BenchmarkDerive(b *testing.B) {
	cfg, night := loadNight(b)
	const n = 5000
	var posts []*post.Post
	for week := 0; len(posts) < n; week++ {
		for _, p := range night {
			if len(posts) == n {
				break
			}
			c := *p
			suffix := fmt.Sprintf("-w%d", week)
			c.ID += suffix
			if c.ReplyToID != "" {
				c.ReplyToID += suffix
			}
			if c.RootID != "" {
				c.RootID += suffix
			}
			c.CreatedAt = c.CreatedAt.AddDate(0, 0, 7*week)
			posts = append(posts, &c)
		}
	}
	mem := threads.NewMemory()
	d := New(cfg, mem, clock())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch, err := d.Derive(ctx, posts)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			mem.Write(ctx, batch) // later rounds are redeliveries of stored posts
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "posts/s")
}
