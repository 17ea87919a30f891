-- Where a post appeared besides its own network (package copies): a bridged copy is
-- stored once, as the post it copies, and recorded here. created_at is that of the
-- copy.
CREATE TABLE IF NOT EXISTS chatnight.post_copies
(
    community  LowCardinality(String),
    post_id    String,
    network    LowCardinality(String),
    copy_id    String,
    url        String,
    created_at DateTime64(3, 'UTC'),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, post_id, copy_id);
