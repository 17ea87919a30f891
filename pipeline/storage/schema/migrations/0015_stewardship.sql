-- Research stewardship: what a collection may have missed (completeness events), which
-- posts were deleted at their source (deletions), and the consent signals accounts
-- carry (account_consent). Ingestors publish the first two on steward.<kind>.<source>,
-- processors write them here; consent rows come from the posts themselves.

-- One row per thing an ingestor may have missed or wants on record: a reconnect or
-- outage window, a rate-limit wait, a dead letter, a Jetstream cursor rewind, a
-- Mastodon instance polled or failing, an X page cut by a cap, an archive file with
-- invalid records. community '' means every community the source serves. from_at and
-- to_at are equal for a moment (a dead letter); count is how many things the row stands
-- for (records, pages). event_id makes a redelivered event one row.
CREATE TABLE IF NOT EXISTS chatnight.completeness_events
(
    source      LowCardinality(String),
    community   LowCardinality(String),
    from_at     DateTime64(3, 'UTC'),
    to_at       DateTime64(3, 'UTC'),
    kind        LowCardinality(String),
    detail      String,
    count       UInt64,
    event_id    String,
    recorded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (source, community, from_at, kind, event_id);

-- Posts deleted at their source. The posts themselves are removed from every table as
-- soon as the deletion is written (see pipeline/storage/deletions.go); these rows stay,
-- holding only the id, so a later copy of the post (a replay, a re-import) is refused.
-- Once the removed rows were also erased from disk (chatnight purge, deleted_retention)
-- the row names the post by its tombstone ('sha256:' + hex SHA-256 of the id), with
-- purged_at set, so that no table holds the id any more.
CREATE TABLE IF NOT EXISTS chatnight.deletions
(
    post_id     String,
    source      LowCardinality(String),
    reason      String,
    deleted_at  DateTime64(3, 'UTC'),
    recorded_at DateTime64(3, 'UTC'),
    purged_at   DateTime64(3, 'UTC'),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY post_id;

-- Consent signals of accounts as last seen on their profiles: Mastodon noindex and
-- indexable, Bluesky's !no-unauthenticated self-label (stored as noindex). The opt-out
-- reader treats noindex accounts as opted out, and in communities with consent: strict
-- also those not indexable.
CREATE TABLE IF NOT EXISTS chatnight.account_consent
(
    account_id String,
    handle     String,
    noindex    UInt8,
    indexable  UInt8,
    seen_at    DateTime64(3, 'UTC'),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY account_id;
