package store

// Every statement the web tier runs, in one place. Values are bound as ClickHouse query
// parameters ({name:Type}); nothing is spliced into the text. Tables that deduplicate on
// their key are read with FINAL; the views (qa, edges, participants, minute_activity)
// already do.
const (
	// queryLatestSessions returns, per community, the session that started last at or
	// before now.
	queryLatestSessions = `
SELECT id, community, start, ` + "`end`" + `, kind, hosts
FROM chatnight.sessions FINAL
WHERE start <= {now:DateTime64(3, 'UTC')}
ORDER BY community, start DESC, id
LIMIT 1 BY community`

	// querySession reads one session by id.
	querySession = `
SELECT id, community, start, ` + "`end`" + `, kind, hosts
FROM chatnight.sessions FINAL
WHERE id = {session:String}
LIMIT 1`

	// querySessionsOfCommunity lists a community's sessions newest first, with their
	// post and participant counts.
	querySessionsOfCommunity = `
SELECT s.id AS id, s.community AS community, s.start AS start, s.` + "`end`" + ` AS ` + "`end`" + `, s.kind AS kind,
       s.hosts AS hosts, p.posts AS posts, p.participants AS participants
FROM
(
    SELECT id, community, start, ` + "`end`" + `, kind, hosts
    FROM chatnight.sessions FINAL
    WHERE community = {community:String} AND start < {before:DateTime64(3, 'UTC')}
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
ORDER BY start DESC, id`

	// queryPostsOfSession is the transcript of a session in time order.
	queryPostsOfSession = `
SELECT id, source, kind, author_id, author_handle, author_name, created_at, text, url,
       reply_to_id, reply_to_author_id, root_id, depth, quote_of_id, quote_of_author_id,
       repost_of_id, repost_of_author_id, mention_ids, mention_handles, hashtags,
       session_id, is_host
FROM chatnight.posts FINAL
WHERE community = {community:String} AND session_id = {session:String}
ORDER BY created_at, id
LIMIT {limit:UInt32}`

	// queryMarksOfSession lists the Q/A marks of a session with, for answers, the post
	// of their question.
	queryMarksOfSession = `
SELECT post_id, kind, toUInt16(number) AS number, question_post_id
FROM chatnight.qa
WHERE community = {community:String} AND session_id = {session:String}
ORDER BY created_at, post_id, kind, number`

	// queryParticipantsOfSession is the leaderboard of a session: posts written, replies
	// and mentions received, and when each author was first seen in the community.
	queryParticipantsOfSession = `
WITH sp AS
(
    SELECT id, author_id, author_handle, author_name, created_at, is_host, reply_to_author_id, mention_ids
    FROM chatnight.posts FINAL
    WHERE community = {community:String} AND session_id = {session:String}
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
SELECT src, dst, kind, weight
FROM chatnight.edges
WHERE community = {community:String} AND session_id = {session:String}
ORDER BY weight DESC, src, dst, kind`

	// queryMentionedHandles names the accounts mentioned in a session, which may not
	// have posted themselves.
	queryMentionedHandles = `
SELECT tupleElement(t, 1) AS id, any(tupleElement(t, 2)) AS handle
FROM
(
    SELECT arrayJoin(arrayZip(mention_ids, mention_handles)) AS t
    FROM chatnight.posts FINAL
    WHERE community = {community:String} AND session_id = {session:String}
      AND length(mention_ids) = length(mention_handles)
)
GROUP BY id`

	// queryActivityOfSession is posts per minute of a session.
	queryActivityOfSession = `
SELECT toDateTime64(minute, 3, 'UTC') AS minute, posts, authors, replies, reposts
FROM chatnight.minute_activity
WHERE community = {community:String} AND session_id = {session:String}
ORDER BY minute`
)
