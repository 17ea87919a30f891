-- People and stakeholder segments (packages pipeline/people and pipeline/segments).

-- Each account's segments in a community, from its bio by the community's rules, with
-- the rule that gave each (reasons, same order). Only these are stored, never the bio.
-- version is the time of the post that carried the bio, so the newest bio wins
-- however often and in whatever order posts are written.
CREATE TABLE IF NOT EXISTS chatnight.account_segments
(
    community  LowCardinality(String),
    account_id String,
    segments   Array(LowCardinality(String)),
    reasons    Array(String),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, account_id);

-- Identity keys accounts hold: their own id and handle, and what evidence (Bridgy Fed
-- handles, verified Mastodon links) ties them to. Accounts holding the same key are
-- one person; reason says what the evidence is ('' for an account's own keys).
CREATE TABLE IF NOT EXISTS chatnight.account_claims
(
    account_id String,
    claim      String,
    reason     String,
    version    UInt64,
    INDEX idx_account account_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (claim, account_id);
