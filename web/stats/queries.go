package stats

// Every statement of the analytics, in one place. Values are bound as ClickHouse query
// parameters ({name:Type}); nothing from a request is spliced into the text. A
// session's posts are read from posts FINAL by (community, created_at range,
// session_id), so the primary key narrows the scan to the session's time window.
//
// Sessions are scheduled sessions (sessions rows of kind 'scheduled') and detected
// sessions (the detected_sessions view); cells are never sessions. A session's content
// is everything whose stored session_id is one of its stored ids: {cells:Array(String)}
// lists those of the sessions read, and {owners:Array(String)} the session each belongs
// to, same order, so transform() names a row's session.

// sessionColumns are the columns of Session, in order; scheduledSessions and
// detectedSessions select them.
const (
	sessionColumns    = "id, community, start, `end`, kind, cells"
	scheduledSessions = `
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, toString(kind) AS kind, CAST([], 'Array(String)') AS cells
    FROM chatnight.sessions FINAL`
	detectedSessions = `
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, kind, cells
    FROM chatnight.detected_sessions`
)

// sessionPosts is the common table expression of a session's posts; sid is the
// session each belongs to.
const sessionPosts = `
WITH sp AS
(
    SELECT id, transform(session_id, {cells:Array(String)}, {owners:Array(String)}, session_id) AS sid,
           kind, source, lang, author_id, author_handle, author_followers, created_at,
           reply_to_author_id, mention_ids, mention_handles, hashtags, urls
    FROM chatnight.posts FINAL
    WHERE community = {community:String}
      AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
      AND session_id IN {cells:Array(String)}
)
`

const (
	// querySession reads one session by id: a scheduled session, or the detected
	// session one of whose cells is id (its own id is its first cell).
	querySession = `
SELECT ` + sessionColumns + `
FROM
(` + scheduledSessions + `
    WHERE id = {session:String} AND kind = 'scheduled'
    UNION ALL` + detectedSessions + `
    WHERE has(cells, {session:String})
)
LIMIT 1`

	// queryLatestSession is a community's last session (scheduled or detected) that
	// started at or before now.
	queryLatestSession = `
SELECT ` + sessionColumns + `
FROM
(` + scheduledSessions + `
    WHERE community = {community:String} AND kind = 'scheduled' AND start <= {now:DateTime64(3, 'UTC')}
    UNION ALL` + detectedSessions + `
    WHERE community = {community:String} AND start <= {now:DateTime64(3, 'UTC')}
)
ORDER BY start DESC, id
LIMIT 1`

	// querySessionsFrom lists a community's sessions (scheduled and detected) that
	// start at or after from, in time order: the sessions of a period and the ones
	// after it (for retention).
	querySessionsFrom = `
SELECT ` + sessionColumns + `
FROM
(` + scheduledSessions + `
    WHERE community = {community:String} AND kind = 'scheduled' AND start >= {from:DateTime64(3, 'UTC')}
    UNION ALL` + detectedSessions + `
    WHERE community = {community:String} AND start >= {from:DateTime64(3, 'UTC')}
)
ORDER BY start, id
LIMIT {limit:UInt32}`

	// querySessionAuthors is, per session and author, the posts and the first post
	// time, with the author's latest handle and followers.
	querySessionAuthors = sessionPosts + `
SELECT toString(sid) AS session_id, author_id, argMax(author_handle, created_at) AS handle,
       count() AS posts, max(author_followers) AS followers, min(created_at) AS first_here
FROM sp
GROUP BY sid, author_id
ORDER BY sid, author_id`

	// queryFirstSeen is when each of some authors first posted in the community.
	queryFirstSeen = `
SELECT author_id, min(first_seen) AS first_seen
FROM chatnight.participants_agg
WHERE community = {community:String} AND author_id IN {authors:Array(String)}
GROUP BY author_id`

	// querySessionCounts is, per session, its posts by kind and its impressions.
	querySessionCounts = sessionPosts + `
SELECT toString(sid) AS session_id, count() AS posts,
       countIf(kind = 'original') AS originals, countIf(kind = 'reply') AS replies,
       countIf(kind = 'repost') AS reposts, countIf(kind = 'quote') AS quotes,
       sum(author_followers) AS impressions,
       min(created_at) AS first_post, max(created_at) AS last_post
FROM sp
GROUP BY sid`

	// queryMentioned is the accounts mentioned most, with a handle when known.
	queryMentioned = sessionPosts + `
SELECT tupleElement(t, 1) AS id, max(tupleElement(t, 2)) AS handle, count() AS n
FROM
(
    SELECT arrayJoin(arrayZip(mention_ids,
        if(length(mention_handles) = length(mention_ids), mention_handles, arrayResize(CAST([], 'Array(String)'), length(mention_ids), '')))) AS t
    FROM sp
)
WHERE id != ''
GROUP BY id
ORDER BY n DESC, id
LIMIT {limit:UInt32}`

	// queryRepliedTo is the accounts replied to most.
	queryRepliedTo = sessionPosts + `
SELECT reply_to_author_id AS id,
       -- a reply mentions whom it answers: X gives only the replied-to user's id
       max(if(length(mention_handles) = length(mention_ids), mention_handles[indexOf(mention_ids, reply_to_author_id)], '')) AS handle,
       count() AS n
FROM sp
WHERE reply_to_author_id != ''
GROUP BY id
ORDER BY n DESC, id
LIMIT {limit:UInt32}`

	// queryHashtags is the hashtags used with the community's own.
	queryHashtags = sessionPosts + `
SELECT toString(tag) AS value, count() AS n
FROM sp
ARRAY JOIN hashtags AS tag
WHERE toString(tag) NOT IN {exclude:Array(String)}
GROUP BY value
ORDER BY n DESC, value
LIMIT {limit:UInt32}`

	// queryURLs is the links shared most.
	queryURLs = sessionPosts + `
SELECT u AS value, count() AS n
FROM sp
ARRAY JOIN urls AS u
GROUP BY value
ORDER BY n DESC, value
LIMIT {limit:UInt32}`

	// queryDomains is the sites linked most.
	queryDomains = sessionPosts + `
SELECT domainWithoutWWW(u) AS value, count() AS n
FROM sp
ARRAY JOIN urls AS u
WHERE value != ''
GROUP BY value
ORDER BY n DESC, value
LIMIT {limit:UInt32}`

	// queryMix is the posts per language and source.
	queryMix = sessionPosts + `
SELECT toString(lang) AS lang, toString(source) AS source, count() AS n
FROM sp
GROUP BY lang, source
ORDER BY lang, source`

	// queryMinutes is the activity per minute.
	queryMinutes = sessionPosts + `
SELECT toDateTime64(toStartOfMinute(created_at), 3, 'UTC') AS minute, count() AS posts,
       uniqExact(author_id) AS authors, countIf(kind = 'reply') AS replies, countIf(kind = 'repost') AS reposts
FROM sp
GROUP BY minute
ORDER BY minute`

	// queryQA lists the Q/A marks of a session (of all its cells).
	queryQA = `
SELECT toString(kind) AS kind, toUInt16(number) AS number, post_id, author_id, created_at
FROM chatnight.qa_marks FINAL
WHERE community = {community:String} AND session_id IN {cells:Array(String)} AND kind IN ('question', 'answer')
ORDER BY created_at, post_id`

	// queryPostTexts reads the author and text of some posts of a session.
	queryPostTexts = `
SELECT id, author_id, author_handle, text
FROM chatnight.posts FINAL
WHERE community = {community:String}
  AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
  AND id IN {ids:Array(String)}`

	// queryEdges is the participant graph of some sessions, kinds summed.
	queryEdges = `
SELECT src, dst, toString(kind) AS kind, count() AS weight
FROM chatnight.edge_events FINAL
WHERE community = {community:String} AND session_id IN {cells:Array(String)}
GROUP BY src, dst, kind
ORDER BY src, dst, kind`
)
