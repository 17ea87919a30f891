-- Thread look-ups by primary key. The processor places each batch in its threads by
-- reading the stored parents of its replies (by id) and the stored replies to its
-- posts (by reply_to_id). posts is ordered by (community, created_at, id), so both
-- look-ups used to scan it; these two narrow tables, filled by materialized views on
-- posts, answer "when was post X created" and "which posts reply to X" from their
-- primary keys, and the look-up then reads posts only at those created_at values.
-- Rows are never removed: an id or a reply link, once stored, stays true.

CREATE TABLE IF NOT EXISTS chatnight.post_ids
(
    community  LowCardinality(String),
    id         String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (community, id, created_at);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.post_ids_mv TO chatnight.post_ids AS
SELECT community, id, created_at
FROM chatnight.posts;

CREATE TABLE IF NOT EXISTS chatnight.post_replies
(
    community   LowCardinality(String),
    reply_to_id String,
    id          String,
    created_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (community, reply_to_id, id, created_at);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.post_replies_mv TO chatnight.post_replies AS
SELECT community, reply_to_id, id, created_at
FROM chatnight.posts
WHERE reply_to_id != '';

-- Posts stored before this migration (running it again only writes the same keys).
INSERT INTO chatnight.post_ids (community, id, created_at)
SELECT community, id, created_at FROM chatnight.posts;

INSERT INTO chatnight.post_replies (community, reply_to_id, id, created_at)
SELECT community, reply_to_id, id, created_at FROM chatnight.posts WHERE reply_to_id != '';
