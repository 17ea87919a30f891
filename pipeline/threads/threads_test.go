package threads

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// p makes a post row: id, parent ("" for none), source root ("" for none).
func p(id, parent, root string) storage.PostRow {
	n := 0
	fmt.Sscanf(strings.TrimLeft(id, "abcdefghijklmnopqrstuvwxyz:"), "%d", &n)
	return storage.PostRow{
		ID: id, Community: "c", ReplyToID: parent, RootID: root, AuthorID: "u" + id,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, n, 0, time.UTC), SessionID: "s",
	}
}

// run places posts in batches against a Memory, writing each batch and the moved posts,
// and returns the final "root/depth" of every post.
func run(t *testing.T, batches [][]storage.PostRow) map[string]string {
	t.Helper()
	mem := NewMemory()
	version := uint64(0)
	for _, b := range batches {
		version++
		rows := make([]*storage.PostRow, len(b))
		for i := range b {
			r := b[i]
			r.Version = version
			rows[i] = &r
		}
		res, err := Place(context.Background(), mem, "c", rows)
		if err != nil {
			t.Fatal(err)
		}
		out := &storage.Batch{}
		for _, r := range rows {
			out.Posts = append(out.Posts, *r)
		}
		for _, m := range res.Moved {
			if m.SessionID != "s" {
				t.Errorf("moved post %s changed session to %q", m.ID, m.SessionID)
			}
			m.Version = max(version, res.StoredVersion[m.ID]+1)
			out.Posts = append(out.Posts, m)
		}
		if err := mem.Write(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for _, r := range mem.All() {
		got[r.ID] = fmt.Sprintf("%s/%d", r.RootID, r.Depth)
	}
	return got
}

func TestPlaceMastodonChain(t *testing.T) {
	// m1 <- m2 <- m3 <- m4, and m5 replies to m2; no source roots.
	posts := []storage.PostRow{p("m1", "", ""), p("m2", "m1", ""), p("m3", "m2", ""), p("m4", "m3", ""), p("m5", "m2", "")}
	want := map[string]string{"m1": "m1/0", "m2": "m1/1", "m3": "m1/2", "m4": "m1/3", "m5": "m1/2"}
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 50; trial++ {
		order := append([]storage.PostRow(nil), posts...)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var batches [][]storage.PostRow
		for i := 0; i < len(order); {
			n := 1 + rng.Intn(3)
			batches = append(batches, order[i:min(i+n, len(order))])
			i += n
		}
		got := run(t, batches)
		for id, w := range want {
			if got[id] != w {
				t.Fatalf("trial %d (%v): %s placed %s, want %s", trial, ids(batches), id, got[id], w)
			}
		}
	}
}

func TestPlaceSourceRoots(t *testing.T) {
	// X: every reply carries the conversation root x1.
	posts := []storage.PostRow{p("x1", "", ""), p("x2", "x1", "x1"), p("x3", "x2", "x1"), p("x4", "x3", "x1")}
	want := map[string]string{"x1": "x1/0", "x2": "x1/1", "x3": "x1/2", "x4": "x1/3"}
	for _, batches := range [][][]storage.PostRow{
		{posts},
		{{posts[3]}, {posts[2]}, {posts[1]}, {posts[0]}},
		{{posts[3], posts[1]}, {posts[0]}, {posts[2]}},
	} {
		got := run(t, batches)
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%v: %s placed %s, want %s", ids(batches), id, got[id], w)
			}
		}
	}
}

func TestPlaceProvisional(t *testing.T) {
	// Parents that never arrive: the reply gathers under the missing post.
	got := run(t, [][]storage.PostRow{{p("m2", "m1", ""), p("m3", "m2", ""), p("x3", "x2", "x1"), p("x5", "x1", "x1")}})
	want := map[string]string{"m2": "m1/1", "m3": "m1/2", "x3": "x1/2", "x5": "x1/1"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s placed %s, want %s", id, got[id], w)
		}
	}
}

func TestPlaceCycle(t *testing.T) {
	// Corrupt data must not hang or crash.
	got := run(t, [][]storage.PostRow{{p("m1", "m2", ""), p("m2", "m1", ""), p("m3", "m3", "")}})
	if got["m3"] != "m3/0" || len(got) != 3 {
		t.Errorf("placed %v", got)
	}
}

func TestPlaceAdoptions(t *testing.T) {
	mem := NewMemory()
	child := p("m2", "m1", "")
	child.RootID, child.Depth, child.Version = "m1", 1, 5
	noAuthor := p("m3", "m1", "")
	noAuthor.RootID, noAuthor.Depth, noAuthor.Version = "m1", 1, 5
	grandchild := p("m4", "m2", "")
	grandchild.RootID, grandchild.Depth, grandchild.Version = "m1", 2, 5
	child.ReplyToAuthorID = "um1"
	mem.Write(context.Background(), &storage.Batch{Posts: []storage.PostRow{child, noAuthor, grandchild}})

	parent := p("m1", "m0", "") // itself a reply to a stored post m0
	m0 := p("m0", "", "")
	m0.RootID = "m0"
	mem.Write(context.Background(), &storage.Batch{Posts: []storage.PostRow{m0}})
	res, err := Place(context.Background(), mem, "c", []*storage.PostRow{&parent})
	if err != nil {
		t.Fatal(err)
	}
	if parent.RootID != "m0" || parent.Depth != 1 {
		t.Errorf("parent placed %s/%d, want m0/1", parent.RootID, parent.Depth)
	}
	if res.Parents["m0"] == nil {
		t.Error("stored parent m0 not returned")
	}
	var moved []string
	for _, m := range res.Moved {
		moved = append(moved, fmt.Sprintf("%s:%s/%d:%s:v%d", m.ID, m.RootID, m.Depth, m.ReplyToAuthorID, res.StoredVersion[m.ID]))
	}
	sort.Strings(moved)
	want := "m2:m0/2:um1:v5 m3:m0/2:um1:v5 m4:m0/3:um2:v5"
	if strings.Join(moved, " ") != want {
		t.Errorf("moved %v, want %s", moved, want)
	}
	if len(res.Adopted) != 2 || !res.Adopted[0].Moved || res.Adopted[0].Parent.ID != "m1" {
		t.Errorf("adopted %+v", res.Adopted)
	}

	// Once stored, placing the parent again moves nothing.
	out := &storage.Batch{Posts: []storage.PostRow{parent}}
	for _, m := range res.Moved {
		m.Version = 6
		out.Posts = append(out.Posts, m)
	}
	mem.Write(context.Background(), out)
	again := p("m1", "m0", "")
	res, err = Place(context.Background(), mem, "c", []*storage.PostRow{&again})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Moved) != 0 || len(res.Adopted) != 2 {
		t.Errorf("second placement moved %d, adopted %d; want 0, 2", len(res.Moved), len(res.Adopted))
	}
}

func ids(batches [][]storage.PostRow) [][]string {
	var out [][]string
	for _, b := range batches {
		var ids []string
		for _, r := range b {
			ids = append(ids, r.ID)
		}
		out = append(out, ids)
	}
	return out
}
