-- Cross-posts (package copies): the same text posted by one person's accounts within
-- two minutes is stored once. The processor finds an earlier post with the same text
-- among recent ones it derived and, for the rest, here: one row per stored post that
-- has text, keyed by the hash of its folded text (computed by the processor, one
-- definition). Rows are never removed.
CREATE TABLE IF NOT EXISTS chatnight.post_texts
(
    community  LowCardinality(String),
    text_hash  UInt64,
    created_at DateTime64(3, 'UTC'),
    id         String,
    author_id  String
)
ENGINE = ReplacingMergeTree
ORDER BY (community, text_hash, created_at, id);
