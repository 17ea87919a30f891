-- Write path (issue 14): skip indexes cost every insert and every merge of posts, so
-- keep only those a hot read needs. idx_session serves the transcript and session
-- queries (session_id IN cells). The others no query needs any more: look-ups by id
-- and by reply_to_id go through the post_ids and post_replies tables (migration 0004),
-- and no query filters posts by author_id (participants read participants_agg).
-- Measured with 10,000-post batches on 2 cores: the four bloom filters cost about
-- 3-4 µs of engine CPU per post written.
ALTER TABLE chatnight.posts DROP INDEX IF EXISTS idx_id, DROP INDEX IF EXISTS idx_reply_to, DROP INDEX IF EXISTS idx_author;
