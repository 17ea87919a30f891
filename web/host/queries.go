package host

// Statements of the host view and the welcome analytics. Values are bound as
// ClickHouse query parameters; {community}, {from}, {to}, {cells} and {owners} are those
// of readmodel.SessionParams.

const (
	// queryFirstPosts is, for some authors, their first post in each session read.
	queryFirstPosts = `
SELECT toString(transform(session_id, {cells:Array(String)}, {owners:Array(String)}, session_id)) AS sid,
       author_id, argMin(id, (created_at, id)) AS post_id, min(created_at) AS first_at
FROM chatnight.posts FINAL
WHERE community = {community:String}
  AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
  AND session_id IN {cells:Array(String)} AND author_id IN {authors:Array(String)}
GROUP BY sid, author_id`

	// queryRepliesTo lists the replies some authors got from someone else, in the time
	// window of the sessions read (in or out of a session), oldest first.
	queryRepliesTo = `
SELECT reply_to_author_id AS to_id, author_id, author_handle, id, created_at
FROM chatnight.posts FINAL
WHERE community = {community:String}
  AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
  AND reply_to_author_id IN {authors:Array(String)} AND author_id != reply_to_author_id
ORDER BY created_at, id`

	// queryPostsByID reads stored posts of a community by id (the parents the page
	// quotes). Ids are few (MaxParents); the bloom index on id finds them.
	queryPostsByID = `
SELECT id, author_id, author_handle, author_name, created_at, text, source, url
FROM chatnight.posts FINAL
WHERE community = {community:String} AND id IN {ids:Array(String)}`
)
