package derive

import (
	"context"
	"reflect"
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

// TestBridgedCopyStoredOnce stores a Bluesky post and its Bridgy Fed copy on Mastodon
// in every order, across batches and delivered again: each time one post, carrying two
// copies, and counted once.
func TestBridgedCopyStoredOnce(t *testing.T) {
	conn := clickHouse(t)
	ctx := context.Background()
	d := New(&community.Config{}, threads.NewClickHouse(conn), time.Now)
	w := storage.NewWriter(conn, nil)
	tests := []struct {
		community string
		batches   func(orig, cp *post.Post) [][]*post.Post
		createdAt string // the stored post's time: the original's, or the copy's when it came first
	}{
		{"copyfirst", func(o, c *post.Post) [][]*post.Post { return [][]*post.Post{{c}, {o}, {c, o}, {o}} }, "2026-11-25T01:44:00Z"},
		{"origfirst", func(o, c *post.Post) [][]*post.Post { return [][]*post.Post{{o}, {c}, {c}, {o, c}} }, "2026-11-25T01:44:00.412Z"},
		{"onebatch", func(o, c *post.Post) [][]*post.Post { return [][]*post.Post{{c, o}, {c, o}} }, "2026-11-25T01:44:00.412Z"},
	}
	for _, tc := range tests {
		t.Run(tc.community, func(t *testing.T) {
			orig, cp := bridgedPair(t, tc.community)
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
				Source    string    `ch:"source"`
				AuthorID  string    `ch:"author_id"`
				Handle    string    `ch:"author_handle"`
				CreatedAt time.Time `ch:"created_at"`
				URL       string    `ch:"url"`
			}
			if err := conn.Select(ctx, &rows, "SELECT id, toString(source) AS source, author_id, author_handle, created_at, url FROM chatnight.posts FINAL WHERE community = ?", tc.community); err != nil {
				t.Fatal(err)
			}
			want, _ := time.Parse(time.RFC3339Nano, tc.createdAt)
			if len(rows) != 1 || rows[0].ID != originalID || rows[0].Source != "bluesky" ||
				rows[0].AuthorID != "bluesky:did:plc:colinbsky7q2xq5ab3cd4ef" || !rows[0].CreatedAt.Equal(want) {
				t.Fatalf("posts stored: %+v; want the Bluesky post once at %s", rows, tc.createdAt)
			}
			cs, err := copies.Load(ctx, conn, tc.community, []string{originalID})
			if err != nil {
				t.Fatal(err)
			}
			wantCopies := []copies.Copy{
				{Network: "bluesky", ID: originalID, URL: "https://bsky.app/profile/did:plc:colinbsky7q2xq5ab3cd4ef/post/3lbcopyxyz22a"},
				{Network: "mastodon", ID: copyID, URL: "https://bsky.brid.gy/r/https://bsky.app/profile/colin.example.com/post/3lbcopyxyz22a"},
			}
			if got := copies.With(rows[0].ID, rows[0].URL, cs[originalID]); !reflect.DeepEqual(got, wantCopies) {
				t.Errorf("copies:\n got %+v\nwant %+v", got, wantCopies)
			}
			var posts, participants, qaMarks uint64
			if err := conn.QueryRow(ctx, "SELECT sum(posts) FROM chatnight.participants WHERE community = ?", tc.community).Scan(&participants); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, "SELECT sum(posts) FROM chatnight.minute_activity WHERE community = ?", tc.community).Scan(&posts); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, "SELECT count() FROM chatnight.qa_marks FINAL WHERE community = ?", tc.community).Scan(&qaMarks); err != nil {
				t.Fatal(err)
			}
			if posts != 1 || participants != 1 || qaMarks != 1 {
				t.Errorf("counted %d posts per minute, %d per participant, %d Q/A marks; want 1 each", posts, participants, qaMarks)
			}
		})
	}
}
