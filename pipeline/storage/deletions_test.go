package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
)

// rowsOf counts, per table, the rows that belong to post id: with the deleted mask
// off, so rows removed but still on disk are counted too.
func rowsOf(t *testing.T, conn driver.Conn, id string, masked bool) map[string]uint64 {
	t.Helper()
	queries := map[string]string{
		"posts":               "SELECT count() FROM chatnight.posts WHERE id = {id:String}",
		"qa_marks":            "SELECT count() FROM chatnight.qa_marks WHERE post_id = {id:String}",
		"edge_events":         "SELECT count() FROM chatnight.edge_events WHERE post_id = {id:String}",
		"post_ids":            "SELECT count() FROM chatnight.post_ids WHERE id = {id:String}",
		"post_replies":        "SELECT count() FROM chatnight.post_replies WHERE id = {id:String} OR reply_to_id = {id:String}",
		"participants_agg":    "SELECT countIf(author_id = 'sim:del-ana') FROM chatnight.participants_agg WHERE community = 'delcomm'",
		"minute_activity_agg": "SELECT count() FROM chatnight.minute_activity_agg WHERE community = 'delcomm' AND minute = toDateTime('2026-11-25 01:40:00', 'UTC')",
		// The read model's aggregates (migration 0005).
		"session_authors_agg": "SELECT countIf(author_id = 'sim:del-ana') FROM chatnight.session_authors_agg WHERE community = 'delcomm'",
		"author_first_agg":    "SELECT countIf(author_id = 'sim:del-ana') FROM chatnight.author_first_agg WHERE community = 'delcomm'",
		"session_edges_agg":   "SELECT countIf(src = 'sim:del-ana') FROM chatnight.session_edges_agg WHERE community = 'delcomm'",
		"account_handles":     "SELECT countIf(account_id = 'sim:del-ana') FROM chatnight.account_handles WHERE community = 'delcomm'",
		// People, segments and copies (migrations 0020-0022): the post's copies and
		// text, and the segments and claims of its author, none of whose posts remain.
		"post_copies":      "SELECT count() FROM chatnight.post_copies WHERE post_id = {id:String} OR copy_id = 'mastodon:https://m.example/s/9'",
		"post_texts":       "SELECT count() FROM chatnight.post_texts WHERE id = {id:String}",
		"account_segments": "SELECT countIf(account_id = 'sim:del-ana') FROM chatnight.account_segments WHERE community = 'delcomm'",
		"account_claims":   "SELECT countIf(account_id = 'sim:del-ana') FROM chatnight.account_claims",
	}
	out := map[string]uint64{}
	settings := clickhouse.Settings{}
	if !masked {
		settings["apply_deleted_mask"] = 0
	}
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{"id": id}), clickhouse.WithSettings(settings))
	for table, q := range queries {
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

// TestDeletionRemovesEveryRowAndPurgeErasesThem: a deleted post leaves every table at
// once, the aggregates follow (its author, who wrote only it, is no participant; its
// minute is gone), and purge leaves no row of it on disk.
func TestDeletionRemovesEveryRowAndPurgeErasesThem(t *testing.T) {
	env := chdbtest.Start(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 25, 1, 40, 0, 0, time.UTC)
	const sess = "delcomm-20261125T013000Z"
	post := func(id, author string, at time.Time, reply string) storage.PostRow {
		return storage.PostRow{ID: id, Community: "delcomm", Source: "bluesky", Kind: "original", AuthorID: author, AuthorHandle: author[4:],
			CreatedAt: at, Text: "text of " + id, ReplyToID: reply, SessionID: sess, Version: 1,
			MentionIDs: []string{}, MentionHandles: []string{}, Hashtags: []string{"delcomm"}, URLs: []string{}}
	}
	gone := "bluesky:at://did:plc:ana/app.bsky.feed.post/1"
	kept := "bluesky:at://did:plc:bo/app.bsky.feed.post/2"
	reply := post(kept, "sim:del-bo", at.Add(2*time.Minute), gone)
	reply.Kind, reply.ReplyToAuthorID = "reply", "sim:del-ana"
	b := &storage.Batch{
		Posts: []storage.PostRow{post(gone, "sim:del-ana", at.Add(10*time.Second), ""), reply},
		QAMarks: []storage.QAMarkRow{{Community: "delcomm", SessionID: sess, Kind: "question", Number: 1, PostID: gone,
			AuthorID: "sim:del-ana", CreatedAt: at, Version: 1}},
		Edges: []storage.EdgeRow{{Community: "delcomm", SessionID: sess, Src: "sim:del-bo", Dst: "sim:del-ana", Kind: "reply",
			PostID: kept, CreatedAt: at, Version: 1}, {Community: "delcomm", SessionID: sess, Src: "sim:del-ana", Dst: "sim:del-bo",
			Kind: "mention", PostID: gone, CreatedAt: at, Version: 1}},
		Copies: []storage.CopyRow{{Community: "delcomm", PostID: gone, Network: "mastodon", CopyID: "mastodon:https://m.example/s/1",
			URL: "https://m.example/s/1", CreatedAt: at, Version: 1},
			// The kept post's copy that was deleted itself (its id is deleted below too).
			{Community: "delcomm", PostID: kept, Network: "mastodon", CopyID: "mastodon:https://m.example/s/9",
				URL: "https://m.example/s/9", CreatedAt: at, Version: 1}},
		Texts: []storage.TextRow{{Community: "delcomm", TextHash: 1, CreatedAt: at, ID: gone, AuthorID: "sim:del-ana"},
			{Community: "delcomm", TextHash: 2, CreatedAt: at, ID: kept, AuthorID: "sim:del-bo"}},
		Segments: []storage.SegmentRow{{Community: "delcomm", AccountID: "sim:del-ana", Segments: []string{"nurse"}, Reasons: []string{"bio"}, Version: 1},
			{Community: "delcomm", AccountID: "sim:del-bo", Segments: []string{"patient"}, Reasons: []string{"bio"}, Version: 1}},
		Claims: []storage.ClaimRow{{AccountID: "sim:del-ana", Claim: "sim:del-ana", Version: 1},
			{AccountID: "sim:del-bo", Claim: "sim:del-bo", Version: 1}},
	}
	if err := storage.NewWriter(env.Conn, nil).Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	before := rowsOf(t, env.Conn, gone, true)
	want := map[string]uint64{"posts": 1, "qa_marks": 1, "edge_events": 1, "post_ids": 1, "post_replies": 1, "participants_agg": 1, "minute_activity_agg": 1,
		"session_authors_agg": 1, "author_first_agg": 1, "session_edges_agg": 1, "account_handles": 1,
		"post_copies": 2, "post_texts": 1, "account_segments": 1, "account_claims": 1}
	if fmt.Sprint(before) != fmt.Sprint(want) {
		t.Fatalf("before the deletion: %v, want %v", before, want)
	}

	now := time.Now().UTC()
	affected, err := storage.RecordDeletions(ctx, env.Conn, []storage.DeletionRow{{PostID: gone, Source: "bluesky", Reason: "jetstream delete",
		DeletedAt: now, RecordedAt: now, Version: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// A copy of a stored post deleted at its own source: no stored post is affected,
	// its copies row goes.
	if copyOf, err := storage.RecordDeletions(ctx, env.Conn, []storage.DeletionRow{{PostID: "mastodon:https://m.example/s/9", Source: "mastodon",
		Reason: "streaming delete", DeletedAt: now, RecordedAt: now, Version: 1}}); err != nil || copyOf != nil {
		t.Fatalf("deleting a copy: %v %v", copyOf, err)
	}
	if fmt.Sprint(affected) != fmt.Sprintf("[{delcomm [%s] [%s]}]", gone, sess) {
		t.Errorf("affected = %v", affected)
	}
	zero := map[string]uint64{"posts": 0, "qa_marks": 0, "edge_events": 0, "post_ids": 0, "post_replies": 0, "participants_agg": 0, "minute_activity_agg": 0,
		"session_authors_agg": 0, "author_first_agg": 0, "session_edges_agg": 0, "account_handles": 0,
		"post_copies": 0, "post_texts": 0, "account_segments": 0, "account_claims": 0}
	if got := rowsOf(t, env.Conn, gone, true); fmt.Sprint(got) != fmt.Sprint(zero) {
		t.Errorf("read after the deletion: %v, want none", got)
	}
	// The reply stays, and its minute still counts it alone.
	var posts, minutePosts uint64
	if err := env.Conn.QueryRow(ctx, "SELECT count() FROM chatnight.posts FINAL WHERE community = 'delcomm'").Scan(&posts); err != nil {
		t.Fatal(err)
	}
	if err := env.Conn.QueryRow(ctx, "SELECT sum(posts) FROM chatnight.minute_activity WHERE community = 'delcomm'").Scan(&minutePosts); err != nil {
		t.Fatal(err)
	}
	var keptRows uint64
	if err := env.Conn.QueryRow(ctx, `SELECT (SELECT count() FROM chatnight.post_texts WHERE id = ?) + (SELECT count() FROM chatnight.account_segments FINAL WHERE account_id = 'sim:del-bo')
		+ (SELECT count() FROM chatnight.account_claims FINAL WHERE account_id = 'sim:del-bo') + (SELECT count() FROM chatnight.post_copies WHERE post_id = ?)`, kept, kept).Scan(&keptRows); err != nil {
		t.Fatal(err)
	}
	if keptRows != 3 {
		t.Errorf("the kept post's text, its author's segments and claims: %d rows, want 3 (and its deleted copy gone)", keptRows)
	}
	if posts != 1 || minutePosts != 1 {
		t.Errorf("after the deletion: %d posts, %d in minute_activity; want 1 and 1", posts, minutePosts)
	}
	// The read model's session numbers follow: the session's posts, authors, hashtag
	// uses, interactions and first post count the reply alone.
	var authorPosts, tagPosts, edgeWeight uint64
	var firstAt time.Time
	for _, q := range []struct {
		query string
		dest  any
	}{
		{"SELECT uniqExactMerge(posts) FROM chatnight.session_authors_agg WHERE community = 'delcomm'", &authorPosts},
		{"SELECT uniqExactMerge(posts) FROM chatnight.session_terms_agg WHERE community = 'delcomm' AND dim = 'hashtag' AND value = 'delcomm'", &tagPosts},
		{"SELECT uniqExactMerge(weight) FROM chatnight.session_edges_agg WHERE community = 'delcomm'", &edgeWeight},
		{"SELECT min(first_at) FROM chatnight.session_spans WHERE community = 'delcomm'", &firstAt},
	} {
		if err := env.Conn.QueryRow(ctx, q.query).Scan(q.dest); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
	}
	if authorPosts != 1 || tagPosts != 1 || edgeWeight != 1 || !firstAt.Equal(at.Add(2*time.Minute)) {
		t.Errorf("read model after the deletion: %d author posts, %d hashtag posts, %d interactions, first post at %v; want 1, 1, 1, %v",
			authorPosts, tagPosts, edgeWeight, firstAt, at.Add(2*time.Minute))
	}
	if got := rowsOf(t, env.Conn, gone, false); got["posts"] == 0 {
		t.Errorf("before purge the removed row is expected still on disk (masked): %v", got)
	}
	deleted, err := storage.DeletedAmong(ctx, env.Conn, []string{gone, kept})
	if err != nil || fmt.Sprint(deleted) != fmt.Sprintf("map[%s:true]", gone) {
		t.Errorf("DeletedAmong = %v, %v", deleted, err)
	}

	n, err := storage.Purge(ctx, env.Conn, now.Add(time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("purged %d deletions, want 2", n)
	}
	if got := rowsOf(t, env.Conn, gone, false); fmt.Sprint(got) != fmt.Sprint(zero) {
		t.Errorf("on disk after purge: %v, want no row in any table", got)
	}
	if n, err := storage.Purge(ctx, env.Conn, now.Add(time.Second), nil); err != nil || n != 0 {
		t.Errorf("second purge: %d, %v; want 0", n, err)
	}
	// The deletions are on record by tombstone: a later copy is still refused, and no
	// row, masked or not, names the post.
	deleted, err = storage.DeletedAmong(ctx, env.Conn, []string{gone, kept})
	if err != nil || fmt.Sprint(deleted) != fmt.Sprintf("map[%s:true]", gone) {
		t.Errorf("DeletedAmong after the purge = %v, %v", deleted, err)
	}
	var named, tombs, purged uint64
	unmasked := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"apply_deleted_mask": 0}))
	if err := env.Conn.QueryRow(unmasked, "SELECT countIf(post_id = ?), countIf(post_id = ?), countIf(purged_at > toDateTime64(0, 3, 'UTC')) FROM chatnight.deletions",
		gone, storage.Tombstone(gone)).Scan(&named, &tombs, &purged); err != nil {
		t.Fatal(err)
	}
	if named != 0 || tombs != 1 || purged != 2 {
		t.Errorf("deletions after the purge: %d rows name the post, %d its tombstone, %d purged; want 0, 1, 2", named, tombs, purged)
	}
}
