package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Deleted posts leave every read path in one place, here, at write time: recording a
// deletion removes the post's rows from every table that holds them (a lightweight
// DELETE, so readers stop seeing them at once) and rebuilds the aggregate rows they
// counted in from the posts that remain. Deletions are rare and touch few keys, so
// rebuilding those keys is cheap and exact (the states are recomputed, not
// decremented), while filtering at read time would put an anti-join on the deletions
// into every query, Grafana's and analysts' own included. So no reader filters deleted
// posts itself: the viewer, the API, exports, reports and Grafana all agree. A table
// that stores rows per post must be listed in deletionTargets; an aggregate over posts
// in rebuildAggregates; the detected sessions (bursts, detected_cells) are placed
// again by the caller from the stored session ids RemovePosts returns (package bursts,
// Placer.Replace), since placing needs each community's session gap.
//
// Per account rather than per post: the segments and identity claims an author's
// posts carried (account_segments, account_claims, and its person, account_people) go once none of the account's
// posts remain; while some do they stay, since they describe the account (its bio and
// verified links), which the remaining posts still show. Consent signals
// (account_consent) stay: they protect the account wherever others mention it.
//
// Removed rows stay on disk, masked, until the parts are rewritten: Purge erases them
// (chatnight purge, and deleted_retention on its own).

// deletionTargets are the tables holding rows of a post, with the column naming it.
// Every statement is fixed text; ids are bound.
var deletionTargets = []struct{ table, delete string }{
	{"posts", `DELETE FROM chatnight.posts WHERE id IN {ids:Array(String)}`},
	{"qa_marks", `DELETE FROM chatnight.qa_marks WHERE post_id IN {ids:Array(String)}`},
	{"edge_events", `DELETE FROM chatnight.edge_events WHERE post_id IN {ids:Array(String)}`},
	{"post_ids", `DELETE FROM chatnight.post_ids WHERE id IN {ids:Array(String)}`},
	{"post_replies", `DELETE FROM chatnight.post_replies WHERE id IN {ids:Array(String)} OR reply_to_id IN {ids:Array(String)}`},
	// Where a post appeared besides its own network, and the copies that were deleted
	// themselves (a bridged copy, a cross-post stored once as the post it repeats).
	{"post_copies", deleteCopies},
	{"post_texts", `DELETE FROM chatnight.post_texts WHERE id IN {ids:Array(String)}`},
}

// PurgeTables are the tables Purge rewrites: the deletion targets and the aggregates.
var PurgeTables = []string{"posts", "qa_marks", "edge_events", "post_ids", "post_replies", "post_copies", "post_texts",
	"participants_agg", "minute_activity_agg", "session_spans", "session_authors_agg", "author_first_agg", "session_terms_agg",
	"session_edges_agg", "account_handles", "account_segments", "account_claims", "account_people", "detected_cells", "bursts"}

// Insert statements of the stewardship tables, naming the columns of columns.go.
var (
	insertDeletions    = insertStatement("chatnight.deletions", deletionColumns)
	insertCompleteness = insertStatement("chatnight.completeness_events", completenessColumns)
	insertConsent      = insertStatement("chatnight.account_consent", consentColumns)
)

const (
	// deleteDeletionIDs removes the rows naming purged posts by id (their tombstones
	// stay).
	deleteDeletionIDs = `DELETE FROM chatnight.deletions WHERE post_id IN {ids:Array(String)}`

	// queryDeletedAmong returns which of ids (posts' ids and tombstones) are deleted.
	queryDeletedAmong = `SELECT post_id FROM chatnight.deletions WHERE post_id IN {ids:Array(String)} GROUP BY post_id`

	// queryAffected finds what the posts counted in: their authors and minutes.
	queryAffected = `
SELECT DISTINCT toString(community) AS community, id, author_id, session_id, toStartOfMinute(created_at) AS minute,
       mention_ids
FROM chatnight.posts
WHERE id IN {ids:Array(String)}`

	// The aggregates are rebuilt for the keys the deleted posts counted in: their rows
	// are deleted and written again from the posts that remain. The states are
	// idempotent (min, max, uniqExact), so a post written meanwhile counts once.
	deleteParticipantsAgg  = `DELETE FROM chatnight.participants_agg WHERE (community, author_id) IN {keys:Array(Tuple(String, String))}`
	rebuildParticipantsAgg = `
INSERT INTO chatnight.participants_agg
SELECT community, author_id, anyLast(author_handle) AS handle, min(created_at) AS first_seen, max(created_at) AS last_seen,
       uniqExactStateIf(session_id, session_id != '') AS sessions, uniqExactState(id) AS posts
FROM chatnight.posts
WHERE (community, author_id) IN {keys:Array(Tuple(String, String))}
GROUP BY community, author_id`
	deleteMinuteAgg  = `DELETE FROM chatnight.minute_activity_agg WHERE (community, session_id, minute) IN {keys:Array(Tuple(String, String, DateTime('UTC')))}`
	rebuildMinuteAgg = `
INSERT INTO chatnight.minute_activity_agg
SELECT community, session_id, toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts, uniqExactState(author_id) AS authors,
       uniqExactStateIf(id, kind = 'reply') AS replies, uniqExactStateIf(id, kind = 'repost') AS reposts
FROM chatnight.posts
WHERE (community, session_id, toStartOfMinute(created_at)) IN {keys:Array(Tuple(String, String, DateTime('UTC')))}
GROUP BY community, session_id, minute`

	// The read model's aggregates (migration 0005) are rebuilt the same way: by
	// (community, stored session id) for the session's spans, authors, terms and
	// edges, by (community, author) for where an author first posted, and by
	// (community, account) for the latest handles of the deleted posts' authors and
	// the accounts they mentioned.
	deleteSessionSpans  = `DELETE FROM chatnight.session_spans WHERE (community, session_id) IN {keys:Array(Tuple(String, String))}`
	rebuildSessionSpans = `
INSERT INTO chatnight.session_spans (community, session_id, first_at, last_at)
SELECT community, session_id, min(created_at), max(created_at)
FROM chatnight.posts
WHERE session_id != '' AND (community, session_id) IN {keys:Array(Tuple(String, String))}
GROUP BY community, session_id`
	deleteSessionAuthors  = `DELETE FROM chatnight.session_authors_agg WHERE (community, session_id) IN {keys:Array(Tuple(String, String))}`
	rebuildSessionAuthors = `
INSERT INTO chatnight.session_authors_agg
SELECT community, session_id, author_id, author_followers, kind,
       argMaxState(author_handle, created_at), argMaxState(author_name, created_at),
       max(toUInt8(is_host)), min(created_at), max(created_at), uniqExactState(id)
FROM chatnight.posts
WHERE session_id != '' AND (community, session_id) IN {keys:Array(Tuple(String, String))}
GROUP BY community, session_id, author_id, author_followers, kind`
	deleteAuthorFirst  = `DELETE FROM chatnight.author_first_agg WHERE (community, author_id) IN {keys:Array(Tuple(String, String))}`
	rebuildAuthorFirst = `
INSERT INTO chatnight.author_first_agg
SELECT community, author_id, min(created_at), argMinState(session_id, (created_at, id))
FROM chatnight.posts
WHERE session_id != '' AND (community, author_id) IN {keys:Array(Tuple(String, String))}
GROUP BY community, author_id`
	deleteSessionTerms  = `DELETE FROM chatnight.session_terms_agg WHERE (community, session_id) IN {keys:Array(Tuple(String, String))}`
	rebuildSessionTerms = `
INSERT INTO chatnight.session_terms_agg
SELECT community, session_id, t.1 AS dim, t.2 AS value, uniqExactState(id)
FROM chatnight.posts
ARRAY JOIN arrayConcat(
    arrayMap(h -> ('hashtag', toString(h)), hashtags),
    arrayMap(u -> ('url', u), urls),
    arrayFilter(x -> x.2 != '', arrayMap(u -> ('domain', domainWithoutWWW(u)), urls)),
    [('lang', toString(lang)), ('source', toString(source))]) AS t
WHERE session_id != '' AND (community, session_id) IN {keys:Array(Tuple(String, String))}
GROUP BY community, session_id, dim, value`
	deleteSessionEdges  = `DELETE FROM chatnight.session_edges_agg WHERE (community, session_id) IN {keys:Array(Tuple(String, String))}`
	rebuildSessionEdges = `
INSERT INTO chatnight.session_edges_agg
SELECT community, session_id, src, dst, kind, uniqExactState(post_id)
FROM chatnight.edge_events
WHERE (community, session_id) IN {keys:Array(Tuple(String, String))}
GROUP BY community, session_id, src, dst, kind`
	deleteAccountHandles  = `DELETE FROM chatnight.account_handles WHERE (community, account_id) IN {keys:Array(Tuple(String, String))}`
	rebuildAccountHandles = `
INSERT INTO chatnight.account_handles
SELECT community, t.1 AS account_id, argMaxState(t.2, created_at)
FROM chatnight.posts
ARRAY JOIN arrayConcat([(author_id, author_handle)],
    if(length(mention_ids) = length(mention_handles), arrayZip(mention_ids, mention_handles), [])) AS t
WHERE t.1 != '' AND t.2 != '' AND (community, t.1) IN {keys:Array(Tuple(String, String))}
GROUP BY community, account_id`

	// queryCopiesAmong says whether any of ids is a stored post or a copy of one;
	// deleteCopies removes them.
	queryCopiesAmong = `SELECT count() FROM chatnight.post_copies WHERE post_id IN {ids:Array(String)} OR copy_id IN {ids:Array(String)}`
	deleteCopies     = `DELETE FROM chatnight.post_copies WHERE post_id IN {ids:Array(String)} OR copy_id IN {ids:Array(String)}`

	// queryAuthorsLeft is which of some accounts still have a stored post.
	queryAuthorsLeft = `SELECT DISTINCT author_id FROM chatnight.posts WHERE author_id IN {accounts:Array(String)}`
	// An account none of whose posts remain loses what its posts said of it.
	deleteAccountSegments = `DELETE FROM chatnight.account_segments WHERE account_id IN {accounts:Array(String)}`
	deleteAccountClaims   = `DELETE FROM chatnight.account_claims WHERE account_id IN {accounts:Array(String)}`
	// Its person rows go too, and those naming it as their person: the others are
	// people of their own in SQL until the processor links them again.
	deleteAccountPeople = `DELETE FROM chatnight.account_people WHERE account_id IN {accounts:Array(String)} OR person_id IN {accounts:Array(String)}`

	// queryAffectedEdges finds the sessions the deleted posts' interactions counted in.
	queryAffectedEdges = `
SELECT DISTINCT toString(community) AS community, session_id
FROM chatnight.edge_events
WHERE post_id IN {ids:Array(String)}`

	// queryUnpurged lists deletions recorded before a time and not yet erased from disk.
	queryUnpurged = `
SELECT post_id, toString(source) AS source, reason, deleted_at, recorded_at, purged_at, version
FROM chatnight.deletions FINAL
WHERE purged_at = toDateTime64(0, 3, 'UTC') AND recorded_at <= {before:DateTime64(3, 'UTC')}
ORDER BY post_id`
)

// idChunk bounds the ids one statement carries: query parameters travel in the URL
// over HTTP, and the endpoint, like ClickHouse, refuses request headers over 1 MiB (a
// 10,000-post batch with its tombstones is past that).
const idChunk = 1000

// DeletedAmong returns which of ids are recorded as deleted.
func DeletedAmong(ctx context.Context, conn driver.Conn, ids []string) (map[string]bool, error) {
	// A purged deletion is on record under its post's tombstone (see Purge).
	keys := make([]string, 0, 2*len(ids))
	byTomb := make(map[string]string, len(ids))
	for _, id := range ids {
		t := Tombstone(id)
		byTomb[t] = id
		keys = append(keys, id, t)
	}
	rows, err := SelectChunked[struct {
		PostID string `ch:"post_id"`
	}](ctx, conn, queryDeletedAmong, nil, "ids", keys, 2*idChunk)
	if err != nil {
		return nil, fmt.Errorf("read deletions: %w", err)
	}
	out := map[string]bool{}
	for _, r := range rows {
		if id, ok := byTomb[r.PostID]; ok {
			out[id] = true
			continue
		}
		out[r.PostID] = true
	}
	return out, nil
}

// Tombstone is what stands for a deleted post's id in chatnight.deletions once it is
// purged: a SHA-256 of the id, enough to refuse a later copy of the post, while no
// table holds the id itself.
func Tombstone(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Affected is a community a deleted post was stored in.
type Affected struct {
	Community string
	PostIDs   []string
	// Sessions are the stored session ids (scheduled sessions' ids, cells) the posts
	// were written with: the detected sessions to place again.
	Sessions []string
}

// RecordDeletions writes the deletions and removes the posts from every table, with
// the aggregates rebuilt. It returns where the posts were stored (for the live pages).
// Running it again for the same deletions changes nothing.
func RecordDeletions(ctx context.Context, conn driver.Conn, rows []DeletionRow) ([]Affected, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	if err := WriteDeletions(ctx, conn, rows); err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.PostID
	}
	return RemovePosts(ctx, conn, ids)
}

// RemovePosts removes the posts ids from every table and rebuilds the aggregates they
// counted in. It returns the communities the posts were stored in.
func RemovePosts(ctx context.Context, conn driver.Conn, ids []string) ([]Affected, error) {
	if len(ids) > idChunk {
		var all []Affected
		for chunk := range slices.Chunk(ids, idChunk) {
			aff, err := RemovePosts(ctx, conn, chunk)
			if err != nil {
				return all, err
			}
			all = append(all, aff...)
		}
		return all, nil
	}
	pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"ids": ArrayParam(ids)}))
	var keys []struct {
		Community string    `ch:"community"`
		ID        string    `ch:"id"`
		AuthorID  string    `ch:"author_id"`
		SessionID string    `ch:"session_id"`
		Minute    time.Time `ch:"minute"`
		Mentions  []string  `ch:"mention_ids"`
	}
	if err := conn.Select(pctx, &keys, queryAffected); err != nil {
		return nil, fmt.Errorf("find what deleted posts counted in: %w", err)
	}
	if len(keys) == 0 {
		// None of them is stored (most deletions a firehose reports): nothing to remove
		// but, rarely, the copies of stored posts they were.
		return nil, removeCopies(pctx, conn)
	}
	var edgeSessions []struct {
		Community string `ch:"community"`
		SessionID string `ch:"session_id"`
	}
	if err := conn.Select(pctx, &edgeSessions, queryAffectedEdges); err != nil {
		return nil, fmt.Errorf("find what deleted posts' interactions counted in: %w", err)
	}
	for _, t := range deletionTargets {
		if err := conn.Exec(pctx, t.delete); err != nil {
			return nil, fmt.Errorf("remove deleted posts from %s: %w", t.table, err)
		}
	}
	var authors, minutes, sessions, edges, accounts [][]string
	seen := map[string]bool{}
	for _, e := range edgeSessions {
		if key := "e\x00" + e.Community + "\x00" + e.SessionID; !seen[key] {
			seen[key] = true
			edges = append(edges, []string{e.Community, e.SessionID})
		}
	}
	byCommunity, sessionsOf := map[string][]string{}, map[string][]string{}
	var order, posters []string
	for _, k := range keys {
		a := []string{k.Community, k.AuthorID}
		if key := "a\x00" + k.Community + "\x00" + k.AuthorID; !seen[key] {
			seen[key] = true
			authors = append(authors, a)
		}
		for _, id := range append([]string{k.AuthorID}, k.Mentions...) {
			if key := "h\x00" + k.Community + "\x00" + id; id != "" && !seen[key] {
				seen[key] = true
				accounts = append(accounts, []string{k.Community, id})
			}
		}
		if key := "s\x00" + k.Community + "\x00" + k.SessionID; k.SessionID != "" && !seen[key] {
			seen[key] = true
			sessions = append(sessions, []string{k.Community, k.SessionID})
		}
		m := []string{k.Community, k.SessionID, k.Minute.UTC().Format("2006-01-02 15:04:05")}
		if key := "m\x00" + m[0] + "\x00" + m[1] + "\x00" + m[2]; !seen[key] {
			seen[key] = true
			minutes = append(minutes, m)
		}
		if key := "p\x00" + k.Community + "\x00" + k.ID; !seen[key] {
			seen[key] = true
			if byCommunity[k.Community] == nil {
				order = append(order, k.Community)
			}
			byCommunity[k.Community] = append(byCommunity[k.Community], k.ID)
		}
		if key := "S\x00" + k.Community + "\x00" + k.SessionID; k.SessionID != "" && !seen[key] {
			seen[key] = true
			sessionsOf[k.Community] = append(sessionsOf[k.Community], k.SessionID)
		}
		if key := "A\x00" + k.AuthorID; !seen[key] {
			seen[key] = true
			posters = append(posters, k.AuthorID)
		}
	}
	for _, step := range []struct {
		what, stmt string
		keys       [][]string
	}{
		{"participants", deleteParticipantsAgg, authors},
		{"participants", rebuildParticipantsAgg, authors},
		{"minute activity", deleteMinuteAgg, minutes},
		{"minute activity", rebuildMinuteAgg, minutes},
		{"session spans", deleteSessionSpans, sessions},
		{"session spans", rebuildSessionSpans, sessions},
		{"session authors", deleteSessionAuthors, sessions},
		{"session authors", rebuildSessionAuthors, sessions},
		{"first posts", deleteAuthorFirst, authors},
		{"first posts", rebuildAuthorFirst, authors},
		{"session terms", deleteSessionTerms, sessions},
		{"session terms", rebuildSessionTerms, sessions},
		{"session edges", deleteSessionEdges, edges},
		{"session edges", rebuildSessionEdges, edges},
		{"account handles", deleteAccountHandles, accounts},
		{"account handles", rebuildAccountHandles, accounts},
	} {
		if len(step.keys) == 0 {
			continue
		}
		kctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"keys": TuplesParam(step.keys)}))
		if err := conn.Exec(kctx, step.stmt); err != nil {
			return nil, fmt.Errorf("rebuild %s after deletions: %w", step.what, err)
		}
	}
	if err := forgetAccountsWithoutPosts(ctx, conn, posters); err != nil {
		return nil, err
	}
	out := make([]Affected, 0, len(order))
	for _, c := range order {
		out = append(out, Affected{Community: c, PostIDs: byCommunity[c], Sessions: sessionsOf[c]})
	}
	return out, nil
}

// removeCopies removes the copies rows of the posts ids of ctx's parameters, when
// there are any (a lightweight delete is a mutation: not one per firehose deletion).
func removeCopies(ctx context.Context, conn driver.Conn) error {
	var n uint64
	if err := conn.QueryRow(ctx, queryCopiesAmong).Scan(&n); err != nil {
		return fmt.Errorf("find copies of deleted posts: %w", err)
	}
	if n == 0 {
		return nil
	}
	if err := conn.Exec(ctx, deleteCopies); err != nil {
		return fmt.Errorf("remove deleted posts from post_copies: %w", err)
	}
	return nil
}

// forgetAccountsWithoutPosts removes the segments and identity claims of those of
// accounts none of whose posts remain.
func forgetAccountsWithoutPosts(ctx context.Context, conn driver.Conn, accounts []string) error {
	if len(accounts) == 0 {
		return nil
	}
	var left []struct {
		AuthorID string `ch:"author_id"`
	}
	actx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"accounts": ArrayParam(accounts)}))
	if err := conn.Select(actx, &left, queryAuthorsLeft); err != nil {
		return fmt.Errorf("find accounts with posts left: %w", err)
	}
	has := make(map[string]bool, len(left))
	for _, l := range left {
		has[l.AuthorID] = true
	}
	var gone []string
	for _, a := range accounts {
		if !has[a] {
			gone = append(gone, a)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	gctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"accounts": ArrayParam(gone)}))
	for _, stmt := range []string{deleteAccountSegments, deleteAccountClaims, deleteAccountPeople} {
		if err := conn.Exec(gctx, stmt); err != nil {
			return fmt.Errorf("forget accounts without posts: %w", err)
		}
	}
	return nil
}

// Purge erases from disk the rows of posts deleted at or before `before` (removed from
// every table when their deletion was recorded, but still in the parts) and marks the
// deletions purged, recording each under its post's Tombstone instead of its id, so
// that afterwards no table holds the id. It removes the posts again first, in case a
// copy was written while its deletion was being recorded: remove does (nil:
// RemovePosts; the processor's also places the detected sessions again). It returns
// how many deletions it purged.
func Purge(ctx context.Context, conn driver.Conn, before time.Time, remove func(context.Context, []string) error) (int, error) {
	var rows []DeletionRow
	qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"before": before.UTC().Format("2006-01-02 15:04:05.000")}))
	if err := conn.Select(qctx, &rows, queryUnpurged); err != nil {
		return 0, fmt.Errorf("read deletions to purge: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.PostID
	}
	if remove == nil {
		remove = func(ctx context.Context, ids []string) error { _, err := RemovePosts(ctx, conn, ids); return err }
	}
	if err := remove(ctx, ids); err != nil {
		return 0, err
	}
	for _, t := range PurgeTables {
		// Rewrites the parts with masked rows: afterwards no part holds them.
		if err := conn.Exec(ctx, "ALTER TABLE chatnight."+t+" APPLY DELETED MASK"); err != nil {
			return 0, fmt.Errorf("purge deleted rows from %s: %w", t, err)
		}
	}
	now := time.Now().UTC()
	for i := range rows {
		rows[i].PostID = Tombstone(rows[i].PostID)
		rows[i].PurgedAt = now
		rows[i].Version++
	}
	// The tombstones first, so a deletion is on record at every moment.
	if err := insertInto(ctx, conn, insertDeletions, "deletions", deletionColumns, rows); err != nil {
		return 0, fmt.Errorf("mark deletions purged: %w", err)
	}
	for chunk := range slices.Chunk(ids, idChunk) {
		ictx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"ids": ArrayParam(chunk)}))
		if err := conn.Exec(ictx, deleteDeletionIDs); err != nil {
			return 0, fmt.Errorf("replace purged deletions' ids by tombstones: %w", err)
		}
	}
	if err := conn.Exec(ctx, "ALTER TABLE chatnight.deletions APPLY DELETED MASK"); err != nil {
		return 0, fmt.Errorf("purge deleted ids from deletions: %w", err)
	}
	return len(rows), nil
}

// WriteDeletions stores deletions without removing their posts (RemovePosts does).
func WriteDeletions(ctx context.Context, conn driver.Conn, rows []DeletionRow) error {
	return insertInto(ctx, conn, insertDeletions, "deletions", deletionColumns, rows)
}

// WriteCompleteness stores completeness events.
func WriteCompleteness(ctx context.Context, conn driver.Conn, rows []CompletenessRow) error {
	return insertInto(ctx, conn, insertCompleteness, "completeness_events", completenessColumns, rows)
}

// WriteConsent stores consent signals.
func WriteConsent(ctx context.Context, conn driver.Conn, rows []ConsentRow) error {
	return insertInto(ctx, conn, insertConsent, "account_consent", consentColumns, rows)
}

func insertInto[T any](ctx context.Context, conn driver.Conn, stmt, table string, cols []column[T], rows []T) error {
	return insertRows(ctx, &Writer{conn: conn}, "", stmt, table, cols, rows)
}

// queryDeletionCounts counts the deletions recorded and those erased from disk.
const queryDeletionCounts = `
SELECT count() AS removed, countIf(purged_at > toDateTime64(0, 3, 'UTC')) AS purged
FROM chatnight.deletions FINAL`

// DeletionCounts returns how many deletions are recorded and how many were purged.
func DeletionCounts(ctx context.Context, conn driver.Conn) (removed, purged uint64, err error) {
	if err := conn.QueryRow(ctx, queryDeletionCounts).Scan(&removed, &purged); err != nil {
		return 0, 0, fmt.Errorf("count deletions: %w", err)
	}
	return removed, purged, nil
}
