package threads

import (
	"context"
	"fmt"
	"runtime/pprof"
	"slices"
	"sort"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// postColumns are the columns of chatnight.posts, named as storage.PostRow's ch tags.
const postColumns = `id, community, source, kind, author_id, author_handle, author_name, author_followers,
created_at, text, lang, url, reply_to_id, reply_to_author_id, root_id, depth, quote_of_id,
quote_of_author_id, repost_of_id, repost_of_author_id, mention_ids, mention_handles, hashtags, urls,
session_id, is_host, raw, ingested_at, version`

// The queries of ClickHouse. posts is ordered by (community, created_at, id), so a
// look-up by id first finds the created_at values from the narrow index table
// post_ids (ordered by id, filled by a materialized view on posts; migration 0004),
// and ClickHouse then reads posts only in the granules holding those times (GLOBAL IN:
// on a cluster these are Distributed tables). FINAL returns the newest version of each
// post. Children are found in the reply index post_replies first: a batch asks for the
// replies to every one of its posts, and almost always there are none, which the index
// answers from its primary key without touching posts.
const (
	selectPostsByID = `SELECT ` + postColumns + `
FROM chatnight.posts FINAL
WHERE community = {community:String} AND id IN {ids:Array(String)}
  AND created_at GLOBAL IN (
    SELECT created_at FROM chatnight.post_ids
    WHERE community = {community:String} AND id IN {ids:Array(String)})`
)

// selectReplyIDs reads the reply index alone.
const selectReplyIDs = `SELECT reply_to_id, id FROM chatnight.post_replies
WHERE community = {community:String} AND reply_to_id IN {ids:Array(String)}`

// lookupContext keeps a look-up on one engine thread: it reads a few granules by
// primary key, and on two cores parallel pipelines only add hand-offs between threads
// (the budget of chatnight bench then also shows the look-ups' engine time as theirs).
func lookupContext(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 1}))
}

// lookupChunk bounds the ids of one query: query parameters travel in the URL over
// HTTP (ClickHouse accepts URLs up to 1 MiB; 2,000 ids of 60 bytes stay far below).
const lookupChunk = 2000

// ClickHouse is the Lookup over chatnight.posts.
type ClickHouse struct {
	conn driver.Conn
}

// NewClickHouse returns a Lookup reading through conn.
func NewClickHouse(conn driver.Conn) *ClickHouse { return &ClickHouse{conn: conn} }

// Posts implements Lookup.
func (c *ClickHouse) Posts(ctx context.Context, community string, ids []string) ([]storage.PostRow, error) {
	return c.query(ctx, selectPostsByID, community, ids)
}

// Children implements Lookup: the reply index names the children, then they are read
// by id. A post's reply_to_id never changes between its versions, so this is every
// stored post replying to one of parentIDs.
func (c *ClickHouse) Children(ctx context.Context, community string, parentIDs []string) ([]storage.PostRow, error) {
	byParent, err := c.ReplyIDs(ctx, community, parentIDs)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, kids := range byParent {
		ids = append(ids, kids...)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	sort.Strings(ids)
	ids = slices.Compact(ids)
	return c.query(ctx, selectPostsByID, community, ids)
}

func (c *ClickHouse) query(ctx context.Context, query, community string, ids []string) (out []storage.PostRow, err error) {
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "lookup"), func(ctx context.Context) {
		out, err = c.queryPosts(ctx, query, community, ids)
	})
	return out, err
}

func (c *ClickHouse) queryPosts(ctx context.Context, query, community string, ids []string) ([]storage.PostRow, error) {
	var out []storage.PostRow
	err := c.eachRow(ctx, query, "posts", community, ids, func(rows driver.Rows) error {
		var r storage.PostRow
		if err := rows.ScanStruct(&r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachRow runs query (with the parameters community and ids) for lookupChunk ids at a
// time and hands each row to scan; what names the rows in errors.
func (c *ClickHouse) eachRow(ctx context.Context, query, what, community string, ids []string, scan func(driver.Rows) error) error {
	for chunk := range slices.Chunk(ids, lookupChunk) {
		rows, err := c.conn.Query(lookupContext(ctx), query, clickhouse.Named("community", community), clickhouse.Named("ids", chunk))
		if err != nil {
			return fmt.Errorf("query %s: %w", what, err)
		}
		for err == nil && rows.Next() {
			err = scan(rows)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
	return nil
}

// ReplyIDs implements ReplyIndex from chatnight.post_replies.
func (c *ClickHouse) ReplyIDs(ctx context.Context, community string, parentIDs []string) (out map[string][]string, err error) {
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "lookup"), func(ctx context.Context) {
		out, err = c.replyIDs(ctx, community, parentIDs)
	})
	return out, err
}

func (c *ClickHouse) replyIDs(ctx context.Context, community string, parentIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	err := c.eachRow(ctx, selectReplyIDs, "replies", community, parentIDs, func(rows driver.Rows) error {
		var parent, id string
		if err := rows.Scan(&parent, &id); err != nil {
			return err
		}
		out[parent] = append(out[parent], id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
