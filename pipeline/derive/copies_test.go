package derive

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

const (
	originalID = "bluesky:at://did:plc:colinbsky7q2xq5ab3cd4ef/app.bsky.feed.post/3lbcopyxyz22a"
	copyID     = "mastodon:https://bsky.brid.gy/convert/ap/at://did:plc:colinbsky7q2xq5ab3cd4ef/app.bsky.feed.post/3lbcopyxyz22a"
)

// bridgedPair is a Bluesky post and its Bridgy Fed copy as a Mastodon instance shows
// it, through each source's parser, for community.
func bridgedPair(t *testing.T, community string) (orig, cp *post.Post) {
	t.Helper()
	bs, err := bluesky.ParseEvent(readTestdata(t, "../copies/jetstream.json"), post.SourceBluesky)
	if err != nil || len(bs) != 1 {
		t.Fatalf("bluesky: %v %v", bs, err)
	}
	ms, err := mastodon.ParseStatus(readTestdata(t, "../copies/mastodon_bridged.json"), post.SourceMastodon)
	if err != nil || len(ms) != 1 {
		t.Fatalf("mastodon: %v %v", ms, err)
	}
	for _, p := range []*post.Post{bs[0], ms[0]} {
		p.Community = community
		p.Normalize()
	}
	return bs[0], ms[0]
}

// direction is a post bridged one way: the original's id, author and URL, and its
// copy's network, id and URL.
type direction struct {
	name                     string
	pair                     func(t *testing.T, community string) (orig, cp *post.Post)
	origID, author, origURL  string
	copyNetwork, cpID, cpURL string
	copyTime, origTime       string // the copy's and the original's created_at
}

var directions = []direction{
	{name: "bsky", pair: bridgedPair, origID: originalID, author: "bluesky:did:plc:colinbsky7q2xq5ab3cd4ef",
		origURL:     "https://bsky.app/profile/did:plc:colinbsky7q2xq5ab3cd4ef/post/3lbcopyxyz22a",
		copyNetwork: "mastodon", cpID: copyID, cpURL: "https://bsky.brid.gy/r/https://bsky.app/profile/colin.example.com/post/3lbcopyxyz22a",
		copyTime: "2026-11-25T01:44:00Z", origTime: "2026-11-25T01:44:00.412Z"},
	{name: "fedi", pair: fediversePair, origID: "mastodon:https://nurses.example/users/ana/statuses/113500000000000888",
		author: "mastodon:ana@nurses.example", origURL: "https://nurses.example/@ana/113500000000000888",
		copyNetwork: "bluesky", cpID: "bluesky:at://did:plc:anabridged5q2xq5ab3cd4ef/app.bsky.feed.post/3lbfedixyz33b",
		cpURL:    "https://bsky.app/profile/did:plc:anabridged5q2xq5ab3cd4ef/post/3lbfedixyz33b",
		copyTime: "2026-11-25T01:46:00Z", origTime: "2026-11-25T01:46:00.25Z"},
}

// fediversePair is a Mastodon status and its Bridgy Fed copy on Bluesky (a post of
// ana.nurses.example.ap.brid.gy whose record names the status), for community.
func fediversePair(t *testing.T, community string) (orig, cp *post.Post) {
	t.Helper()
	ms, err := mastodon.ParseStatus(readTestdata(t, "../copies/mastodon_original.json"), post.SourceMastodon)
	if err != nil || len(ms) != 1 {
		t.Fatalf("mastodon: %v %v", ms, err)
	}
	profile := func(string) (bluesky.Profile, bool) {
		return bluesky.Profile{Handle: "ana.nurses.example.ap.brid.gy", Name: "Ana", Followers: 2}, true
	}
	bs, err := bluesky.Parser{Profile: profile}.ParseEvent(readTestdata(t, "../copies/jetstream_bridged.json"), post.SourceBluesky)
	if err != nil || len(bs) != 1 {
		t.Fatalf("bluesky: %v %v", bs, err)
	}
	for _, p := range []*post.Post{bs[0], ms[0]} {
		p.Community = community
		p.Normalize()
	}
	return ms[0], bs[0]
}

// TestBridgedCopyStoredOnce stores a post and its Bridgy Fed copy, both ways round (a
// Bluesky post copied to Mastodon, a Mastodon status copied to Bluesky), in every
// order, across batches and delivered again: each time one post, carrying two copies,
// and counted once.
func TestBridgedCopyStoredOnce(t *testing.T) {
	conn := clickHouse(t)
	ctx := context.Background()
	d := New(&community.Config{}, threads.NewClickHouse(conn), time.Now)
	w := storage.NewWriter(conn, nil)
	orders := []struct {
		name    string
		batches func(orig, cp *post.Post) [][]*post.Post
		// copyTime: the stored post has the copy's time (it came first), else the original's
		copyTime bool
	}{
		{"copyfirst", func(o, c *post.Post) [][]*post.Post { return [][]*post.Post{{c}, {o}, {c, o}, {o}} }, true},
		{"origfirst", func(o, c *post.Post) [][]*post.Post { return [][]*post.Post{{o}, {c}, {c}, {o, c}} }, false},
		{"onebatch", func(o, c *post.Post) [][]*post.Post { return [][]*post.Post{{c, o}, {c, o}} }, false},
	}
	for _, dir := range directions {
		for _, tc := range orders {
			community := dir.name + tc.name
			t.Run(community, func(t *testing.T) {
				orig, cp := dir.pair(t, community)
				for _, batch := range tc.batches(orig, cp) {
					b, err := d.Derive(ctx, batch)
					if err != nil {
						t.Fatal(err)
					}
					if err := w.Write(ctx, b); err != nil {
						t.Fatal(err)
					}
				}
				var rows []struct {
					ID        string    `ch:"id"`
					AuthorID  string    `ch:"author_id"`
					CreatedAt time.Time `ch:"created_at"`
					URL       string    `ch:"url"`
				}
				if err := conn.Select(ctx, &rows, "SELECT id, author_id, created_at, url FROM chatnight.posts FINAL WHERE community = ?", community); err != nil {
					t.Fatal(err)
				}
				at := dir.origTime
				if tc.copyTime {
					at = dir.copyTime
				}
				want, _ := time.Parse(time.RFC3339Nano, at)
				if len(rows) != 1 || rows[0].ID != dir.origID || rows[0].AuthorID != dir.author || !rows[0].CreatedAt.Equal(want) {
					t.Fatalf("posts stored: %+v; want %s by %s once at %s", rows, dir.origID, dir.author, at)
				}
				cs, err := copies.Load(ctx, conn, community, []string{dir.origID})
				if err != nil {
					t.Fatal(err)
				}
				wantCopies := []copies.Copy{
					{Network: strings.SplitN(dir.origID, ":", 2)[0], ID: dir.origID, URL: dir.origURL},
					{Network: dir.copyNetwork, ID: dir.cpID, URL: dir.cpURL},
				}
				if got := copies.With(rows[0].ID, rows[0].URL, cs[dir.origID]); !reflect.DeepEqual(got, wantCopies) {
					t.Errorf("copies:\n got %+v\nwant %+v", got, wantCopies)
				}
				var posts, participants, qaMarks, edges uint64
				if err := conn.QueryRow(ctx, "SELECT sum(posts) FROM chatnight.participants WHERE community = ?", community).Scan(&participants); err != nil {
					t.Fatal(err)
				}
				if err := conn.QueryRow(ctx, "SELECT sum(posts) FROM chatnight.minute_activity WHERE community = ?", community).Scan(&posts); err != nil {
					t.Fatal(err)
				}
				if err := conn.QueryRow(ctx, "SELECT count() FROM chatnight.qa_marks FINAL WHERE community = ?", community).Scan(&qaMarks); err != nil {
					t.Fatal(err)
				}
				if err := conn.QueryRow(ctx, "SELECT count() FROM chatnight.edge_events FINAL WHERE community = ?", community).Scan(&edges); err != nil {
					t.Fatal(err)
				}
				// The read model's session counts: one post, whatever follower count
				// the copy saw.
				var sessionPosts uint64
				if err := conn.QueryRow(ctx, `SELECT sum(n) FROM (SELECT uniqExactMerge(posts) AS n FROM chatnight.session_authors_agg
					WHERE community = ? GROUP BY session_id, author_id, followers, kind)`, community).Scan(&sessionPosts); err != nil {
					t.Fatal(err)
				}
				if posts != 1 || participants != 1 || qaMarks != 1 || edges != 0 || sessionPosts != 1 {
					t.Errorf("counted %d posts per minute, %d per participant, %d Q/A marks, %d edges, %d session posts; want 1, 1, 1, 0, 1",
						posts, participants, qaMarks, edges, sessionPosts)
				}
			})
		}
	}
}

// TestReplyToABridgedCopy replies on Bluesky to the Bluesky copy of a Mastodon status:
// the reply is stored as a reply to the status, with its edge to the status's author,
// whether the copy came in the same batch or was stored before.
func TestReplyToABridgedCopy(t *testing.T) {
	conn := clickHouse(t)
	ctx := context.Background()
	d := New(&community.Config{}, threads.NewClickHouse(conn), time.Now).WithCrossPosts(copies.NewClickHouse(conn, nil))
	w := storage.NewWriter(conn, nil)
	dir := directions[1]
	for _, tc := range []struct {
		name    string
		batches func(o, c, r *post.Post) [][]*post.Post
	}{
		{"samebatch", func(o, c, r *post.Post) [][]*post.Post { return [][]*post.Post{{c, r}, {o}} }},
		{"later", func(o, c, r *post.Post) [][]*post.Post { return [][]*post.Post{{o}, {c}, {r}} }},
	} {
		community := "reply" + tc.name
		t.Run(tc.name, func(t *testing.T) {
			orig, cp := dir.pair(t, community)
			reply := &post.Post{ID: "bluesky:at://did:plc:replier/app.bsky.feed.post/3lbreply1", Source: post.SourceBluesky,
				Community: community, Author: post.Account{ID: "bluesky:did:plc:replier", Handle: "bo.bsky.social"},
				CreatedAt: cp.CreatedAt.Add(time.Minute), Text: "so true", ReplyToID: cp.ID, ReplyToAuthorID: cp.Author.ID, RootID: cp.ID}
			reply.Normalize()
			for _, batch := range tc.batches(orig, cp, reply) {
				b, err := d.Derive(ctx, batch)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			var got struct {
				ReplyTo string `ch:"reply_to_id"`
				Root    string `ch:"root_id"`
			}
			if err := conn.QueryRow(ctx, "SELECT reply_to_id, root_id FROM chatnight.posts FINAL WHERE community = ? AND id = ?", community, reply.ID).ScanStruct(&got); err != nil {
				t.Fatal(err)
			}
			if got.ReplyTo != dir.origID || got.Root != dir.origID {
				t.Errorf("the reply is to %q (root %q), want the status %s", got.ReplyTo, got.Root, dir.origID)
			}
			var edges []struct {
				Src  string `ch:"src"`
				Dst  string `ch:"dst"`
				Kind string `ch:"kind"`
			}
			if err := conn.Select(ctx, &edges, "SELECT src, dst, toString(kind) AS kind FROM chatnight.edge_events FINAL WHERE community = ?", community); err != nil {
				t.Fatal(err)
			}
			if len(edges) != 1 || edges[0].Src != "bluesky:did:plc:replier" || edges[0].Dst != dir.author || edges[0].Kind != "reply" {
				t.Errorf("edges %+v, want one reply from the replier to %s", edges, dir.author)
			}
		})
	}
}
