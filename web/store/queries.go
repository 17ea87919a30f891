package store

// Every statement the web tier runs, in one place. Values are bound as ClickHouse query
// parameters ({name:Type}); nothing is spliced into the text. Tables that deduplicate on
// their key are read with FINAL; the views (detected_sessions, participants,
// minute_activity) already do.
//
// A session is a scheduled session (a sessions row of kind 'scheduled') or a detected
// session (a row of the detected_sessions view: a burst of cells). Cells are never
// sessions of their own. The content of a session is everything whose stored
// session_id is one of its stored ids ({cells:Array(String)}: the detected session's
// cells, or the scheduled session's own id), so a detected session reads the same
// tables by primary key as a scheduled one.

// sessionColumns are the columns of sessionRow every session query returns, in order.
const sessionColumns = "id, community, start, `end`, kind, hosts, cells"

const (
	// queryLatestSessions returns, per community, the session (scheduled or detected)
	// that started last at or before now.
	queryLatestSessions = `
SELECT ` + sessionColumns + `
FROM
(
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, toString(kind) AS kind, hosts,
           CAST([], 'Array(String)') AS cells
    FROM chatnight.sessions FINAL
    WHERE kind = 'scheduled' AND start <= {now:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, kind, CAST([], 'Array(String)') AS hosts, cells
    FROM chatnight.detected_sessions
    WHERE start <= {now:DateTime64(3, 'UTC')}
)
ORDER BY community, start DESC, id
LIMIT 1 BY community`

	// querySession reads one session by id: a scheduled session, or the detected
	// session one of whose cells is id (its own id is its first cell).
	querySession = `
SELECT ` + sessionColumns + `
FROM
(
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, toString(kind) AS kind, hosts,
           CAST([], 'Array(String)') AS cells
    FROM chatnight.sessions FINAL
    WHERE id = {session:String} AND kind = 'scheduled'
    UNION ALL
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, kind, CAST([], 'Array(String)') AS hosts, cells
    FROM chatnight.detected_sessions
    WHERE has(cells, {session:String})
)
LIMIT 1`

	// querySessionsOfCommunity lists a community's scheduled and detected sessions
	// newest first, with their post and participant counts.
	querySessionsOfCommunity = `
SELECT ` + sessionColumns + `, posts, participants
FROM
(
    SELECT s.id AS id, s.community AS community, s.start AS start, s.` + "`end`" + ` AS ` + "`end`" + `,
           s.kind AS kind, s.hosts AS hosts, CAST([], 'Array(String)') AS cells,
           p.posts AS posts, p.participants AS participants
    FROM
    (
        SELECT id, toString(community) AS community, start, ` + "`end`" + `, toString(kind) AS kind, hosts
        FROM chatnight.sessions FINAL
        WHERE community = {community:String} AND kind = 'scheduled' AND start < {before:DateTime64(3, 'UTC')}
        ORDER BY start DESC, id
        LIMIT {limit:UInt32}
    ) AS s
    LEFT JOIN
    (
        SELECT session_id, count() AS posts, uniqExact(author_id) AS participants
        FROM chatnight.posts FINAL
        WHERE community = {community:String} AND session_id != ''
        GROUP BY session_id
    ) AS p ON p.session_id = s.id
    UNION ALL
    SELECT id, toString(community) AS community, start, ` + "`end`" + `, kind, CAST([], 'Array(String)') AS hosts, cells,
           posts, authors AS participants
    FROM chatnight.detected_sessions
    WHERE community = {community:String} AND start < {before:DateTime64(3, 'UTC')}
)
ORDER BY start DESC, id
LIMIT {limit:UInt32}`

	// queryPostsOfSession is the transcript of a session in time order.
	queryPostsOfSession = `
SELECT id, source, kind, author_id, author_handle, author_name, created_at, text, url,
       reply_to_id, reply_to_author_id, root_id, depth, quote_of_id, quote_of_author_id,
       repost_of_id, repost_of_author_id, mention_ids, mention_handles, hashtags,
       session_id, is_host
FROM chatnight.posts FINAL
WHERE community = {community:String} AND session_id IN {cells:Array(String)}
ORDER BY created_at, id
LIMIT {limit:UInt32}`

	// queryMarksOfSession lists the Q/A marks of a session with, for answers, the post
	// of their question: the first question with that number anywhere in the session
	// (in a detected session, a question and its answers may carry different cells).
	queryMarksOfSession = `
WITH marks AS
(
    SELECT post_id, kind, number, created_at
    FROM chatnight.qa_marks FINAL
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
)
SELECT m.post_id AS post_id, toString(m.kind) AS kind, toUInt16(m.number) AS number,
       if(m.kind = 'answer', q.question_post_id, '') AS question_post_id
FROM marks AS m
LEFT JOIN
(
    SELECT number, argMin(post_id, (created_at, post_id)) AS question_post_id
    FROM marks
    WHERE kind = 'question'
    GROUP BY number
) AS q ON m.number = q.number
ORDER BY m.created_at, m.post_id, kind, number`

	// queryParticipantsOfSession is the leaderboard of a session: posts written, replies
	// and mentions received, and when each author was first seen in the community.
	queryParticipantsOfSession = `
WITH sp AS
(
    SELECT id, author_id, author_handle, author_name, created_at, is_host, reply_to_author_id, mention_ids
    FROM chatnight.posts FINAL
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
)
SELECT a.author_id AS author_id, a.handle AS handle, a.name AS name, a.posts AS posts,
       a.is_host AS is_host, a.first_here AS first_here,
       r.replies AS replies_received, m.mentions AS mentions_received,
       pa.first_seen AS first_seen, pa.sessions AS sessions
FROM
(
    SELECT author_id, argMax(author_handle, created_at) AS handle, argMax(author_name, created_at) AS name,
           count() AS posts, max(is_host) AS is_host, min(created_at) AS first_here
    FROM sp
    GROUP BY author_id
) AS a
LEFT JOIN
(
    SELECT reply_to_author_id AS author_id, count() AS replies
    FROM sp
    WHERE reply_to_author_id != ''
    GROUP BY author_id
) AS r ON r.author_id = a.author_id
LEFT JOIN
(
    SELECT arrayJoin(mention_ids) AS author_id, count() AS mentions
    FROM sp
    GROUP BY author_id
) AS m ON m.author_id = a.author_id
LEFT JOIN
(
    SELECT author_id, first_seen, sessions
    FROM chatnight.participants
    WHERE community = {community:String}
) AS pa ON pa.author_id = a.author_id
ORDER BY posts DESC, author_id`

	// queryEdgesOfSession is the participant graph of a session.
	queryEdgesOfSession = `
SELECT src, dst, toString(kind) AS kind, count() AS weight
FROM chatnight.edge_events FINAL
WHERE community = {community:String} AND session_id IN {cells:Array(String)}
GROUP BY src, dst, kind
ORDER BY weight DESC, src, dst, kind`

	// queryMentionedHandles names the accounts mentioned in a session, which may not
	// have posted themselves.
	queryMentionedHandles = `
SELECT tupleElement(t, 1) AS id, any(tupleElement(t, 2)) AS handle
FROM
(
    SELECT arrayJoin(arrayZip(mention_ids, mention_handles)) AS t
    FROM chatnight.posts FINAL
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
      AND length(mention_ids) = length(mention_handles)
)
GROUP BY id`

	// queryActivityOfSession is posts per minute of a session (merged over its cells).
	queryActivityOfSession = `
SELECT toDateTime64(m, 3, 'UTC') AS minute, posts, authors, replies, reposts
FROM
(
    SELECT minute AS m, uniqExactMerge(posts) AS posts, uniqExactMerge(authors) AS authors,
           uniqExactMerge(replies) AS replies, uniqExactMerge(reposts) AS reposts
    FROM chatnight.minute_activity_agg
    WHERE community = {community:String} AND session_id IN {cells:Array(String)}
    GROUP BY m
)
ORDER BY minute`
)
