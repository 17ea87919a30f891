package readmodel

// Every statement of the read model, in one place. Values are bound as ClickHouse
// query parameters ({name:Type}); nothing is spliced into the text. FINAL is used only
// on the small tables (sessions, bursts, detected_cells, qa_marks) and on posts within
// one session's time range (transcripts); everything counted comes from the write-time
// aggregates of migration 0005.
//
// A session's content is everything stored with one of its stored ids:
// {cells:Array(String)} lists those of the sessions read, and {owners:Array(String)}
// the session each belongs to, same order, so transform() names a row's session.

// sessionsOf lists a community's sessions (scheduled and detected) that match where,
// in order; the columns are those of sessionRow.
func sessionsOf(where, order string) string {
	return `
SELECT id, community, start, ` + "`end`" + `, kind, hosts, cells
FROM
(
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, toString(kind) AS kind, hosts,
           CAST([], 'Array(String)') AS cells
    FROM chatnight.sessions FINAL
    WHERE community = {community:String} AND kind = 'scheduled'
    UNION ALL
    SELECT b.id AS id, toString(b.community) AS community, b.start AS start, b.` + "`end`" + ` AS ` + "`end`" + `,
           'detected' AS kind, CAST([], 'Array(String)') AS hosts, c.cells AS cells
    FROM
    (
        SELECT community, id, start, ` + "`end`" + `
        FROM chatnight.bursts FINAL
        WHERE community = {community:String} AND merged_into = ''
    ) AS b
    LEFT JOIN
    (
        SELECT session_id, arraySort(groupArray(cell)) AS cells
        FROM chatnight.detected_cells FINAL
        WHERE community = {community:String}
        GROUP BY session_id
    ) AS c ON c.session_id = b.id
)
WHERE ` + where + `
ORDER BY ` + order
}

// authorSessions is, per author of {authors}, agg over s, the sessions they took part
// in: stored ids resolved through detected_cells, so a detected session counts once
// however many cells it spans.
func authorSessions(agg string) string {
	return `
SELECT author_id, ` + agg + ` AS sessions
FROM
(
    SELECT a.author_id AS author_id, if(dc.session_id != '', dc.session_id, a.s) AS s
    FROM
    (
        SELECT author_id, session_id AS s
        FROM chatnight.session_authors_agg
        WHERE community = {community:String} AND author_id IN {authors:Array(String)}
        GROUP BY author_id, session_id
    ) AS a
    LEFT JOIN
    (
        SELECT cell, session_id
        FROM chatnight.detected_cells FINAL
        WHERE community = {community:String}
    ) AS dc ON dc.cell = a.s
)
GROUP BY author_id`
}

var (
	// queryAuthorSessionIDs lists the sessions (stored ids resolved) each of some authors
	// took part in: a person attended the union of their accounts' sessions.
	queryAuthorSessionIDs = authorSessions("groupUniqArray(s)")

	// queryAuthorSessions is how many sessions each of some authors took part in, a
	// detected session counted once however many cells it spans.
	queryAuthorSessions = authorSessions("toUInt64(uniqExact(s))")
)

var (
	// querySession reads one session of a community by id.
	querySession = sessionsOf("id = {session:String}", "start LIMIT 1")
	// queryLatestSession is a community's last session that started at or before now.
	queryLatestSession = sessionsOf("start <= {now:DateTime64(3, 'UTC')}", "start DESC, id LIMIT 1")
	// querySessionList is a community's sessions that started before before, newest
	// first.
	querySessionList = sessionsOf("start < {before:DateTime64(3, 'UTC')}", "start DESC, id LIMIT {limit:UInt32}")
	// querySessionsFrom is a community's sessions that start at or after from, in time
	// order: the sessions of a period and the ones after it (for retention).
	querySessionsFrom = sessionsOf("start >= {from:DateTime64(3, 'UTC')}", "start, id LIMIT {limit:UInt32}")
)

// sessionAuthors is, per session and author, the author's latest handle and name,
// posts, followers, host flag and first post in the session, and whether the author is
// a newcomer: their first post in the community is in this session.
const sessionAuthors = `
SELECT a.sid AS session_id, a.author_id AS author_id, a.handle AS handle, a.name AS name, a.posts AS posts,
       a.followers AS followers, a.is_host AS is_host, a.first_here AS first_here,
       transform(f.first_stored, {cells:Array(String)}, {owners:Array(String)}, '') = a.sid AS newcomer,
       f.first_seen AS first_seen
FROM
(
    SELECT transform(session_id, {cells:Array(String)}, {owners:Array(String)}, '') AS sid, author_id,
           argMaxMerge(handle) AS handle, argMaxMerge(name) AS name, uniqExactMerge(posts) AS posts,
           max(followers) AS followers, max(is_host) = 1 AS is_host, min(first_at) AS first_here
    FROM chatnight.session_authors_agg
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
    GROUP BY sid, author_id
) AS a
LEFT JOIN
(
    SELECT author_id, argMinMerge(first_post) AS first_stored, min(first_at) AS first_seen
    FROM chatnight.author_first_agg
    WHERE community = {community:String} AND author_id IN
    (
        SELECT author_id FROM chatnight.session_authors_agg
        WHERE community = {community:String} AND session_id IN {cells:Array(String)}
    )
    GROUP BY author_id
) AS f ON f.author_id = a.author_id`

const (
	// queryResolve names the community and session of a session id: a scheduled
	// session's id, a detected session's id, or any cell (the id of a session merged
	// into another is its first cell, so it resolves to the survivor).
	queryResolve = `
SELECT community, session_id
FROM
(
    SELECT toString(community) AS community, id AS session_id, 0 AS pick
    FROM chatnight.sessions FINAL
    WHERE id = {session:String} AND kind = 'scheduled'
    UNION ALL
    SELECT toString(community) AS community, session_id, 1 AS pick
    FROM chatnight.detected_cells FINAL
    WHERE cell = {session:String}
)
ORDER BY pick
LIMIT 1`

	// querySessionCounts is, per session, its posts by kind, participants and
	// impressions.
	querySessionCounts = `
SELECT sid AS session_id, sum(n) AS posts,
       sumIf(n, kind = 'original') AS originals, sumIf(n, kind = 'reply') AS replies,
       sumIf(n, kind = 'repost') AS reposts, sumIf(n, kind = 'quote') AS quotes,
       uniqExact(author_id) AS participants, sum(followers * n) AS impressions
FROM
(
    SELECT transform(session_id, {cells:Array(String)}, {owners:Array(String)}, '') AS sid, author_id, followers,
           toString(kind) AS kind, uniqExactMerge(posts) AS n
    FROM chatnight.session_authors_agg
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
    GROUP BY sid, author_id, followers, kind
)
GROUP BY sid`

	// querySessionAccounts lists the author ids of each session (no aggregate state
	// is read).
	querySessionAccounts = `
SELECT transform(session_id, {cells:Array(String)}, {owners:Array(String)}, '') AS sid,
       groupUniqArray(author_id) AS authors
FROM chatnight.session_authors_agg
WHERE community = {community:String} AND session_id IN {cells:Array(String)}
GROUP BY sid`

	// querySessionAuthors lists the authors of sessions.
	querySessionAuthors = sessionAuthors + `
ORDER BY session_id, posts DESC, author_id`

	// queryReceived is, per account, the replies and mentions it received.
	queryReceived = `
SELECT dst AS id, uniqExactMergeIf(weight, kind = 'reply') AS replies, uniqExactMergeIf(weight, kind = 'mention') AS mentions
FROM chatnight.session_edges_agg
WHERE community = {community:String} AND session_id IN {cells:Array(String)} AND kind IN ('reply', 'mention')
GROUP BY dst`

	// queryHandles is the latest handle of some accounts.
	queryHandles = `
SELECT account_id AS id, argMaxMerge(handle) AS handle
FROM chatnight.account_handles
WHERE community = {community:String} AND account_id IN {ids:Array(String)}
GROUP BY account_id`

	// queryEdges is the participant graph of sessions, per kind.
	queryEdges = `
SELECT src, dst, kind, sum(w) AS weight
FROM
(
    SELECT session_id, src, dst, toString(kind) AS kind, uniqExactMerge(weight) AS w
    FROM chatnight.session_edges_agg
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
    GROUP BY session_id, src, dst, kind
)
GROUP BY src, dst, kind
ORDER BY weight DESC, src, dst, kind
LIMIT {max_edges:UInt32}`

	// queryTerms is, per dimension, the values by posts using them: the top
	// {limit} hashtags (the community's own excluded), urls and domains, and every
	// language and source.
	queryTerms = `
SELECT dim, value, n
FROM
(
    SELECT toString(dim) AS dim, value, uniqExactMerge(posts) AS n
    FROM chatnight.session_terms_agg
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
      AND NOT (dim = 'hashtag' AND value IN {exclude:Array(String)})
    GROUP BY dim, value
)
ORDER BY dim, n DESC, value
LIMIT {limit:UInt32} BY dim`

	// queryActivity is the activity per minute of a session (merged over its cells).
	queryActivity = `
SELECT toDateTime64(minute, 3, 'UTC') AS minute, uniqExactMerge(posts) AS posts, uniqExactMerge(authors) AS authors,
       uniqExactMerge(replies) AS replies, uniqExactMerge(reposts) AS reposts
FROM chatnight.minute_activity_agg
WHERE community = {community:String}
  AND minute >= toDateTime({from:DateTime64(3, 'UTC')}) AND minute < toDateTime({to:DateTime64(3, 'UTC')})
  AND session_id IN {cells:Array(String)}
GROUP BY minute
ORDER BY minute`

	// queryPosts is the transcript of a session in time order.
	queryPosts = `
SELECT id, source, kind, author_id, author_handle, author_name, created_at, text, url,
       reply_to_id, reply_to_author_id, root_id, depth, quote_of_id, quote_of_author_id,
       repost_of_id, repost_of_author_id, mention_ids, mention_handles, hashtags,
       session_id, is_host
FROM chatnight.posts FINAL
WHERE community = {community:String}
  AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
  AND session_id IN {cells:Array(String)}
ORDER BY created_at, id
LIMIT {limit:UInt32}`

	// queryMarks lists the Q/A marks of a session (of all its cells).
	queryMarks = `
SELECT post_id, toString(kind) AS kind, toUInt16(number) AS number, author_id, created_at
FROM chatnight.qa_marks FINAL
WHERE community = {community:String} AND session_id IN {cells:Array(String)}
ORDER BY created_at, post_id, kind, number`

	// queryPostTexts reads the author and text of some posts of a session.
	queryPostTexts = `
SELECT id, author_id, author_handle, text
FROM chatnight.posts
WHERE community = {community:String}
  AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
  AND id IN {ids:Array(String)}
ORDER BY version DESC
LIMIT 1 BY id`
)
