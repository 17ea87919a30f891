-- Read path (issue 13): granules sized by bytes for the per-session aggregates.
--
-- Their rows carry aggregate states (the post ids of a session's language, source,
-- author or minute), so the default granule of up to 8,192 rows or 10 MiB holds the
-- states of dozens of sessions, and reading one session decodes them all. With granules
-- of at most 256 KiB a session reads little more than its own states. Measured at 1M
-- posts on one session: terms 24 -> 9 ms, activity 21 -> 11 ms; the gap widens with
-- larger sessions.
--
-- index_granularity_bytes cannot be altered, so each table is rebuilt: a copy with the
-- new setting is filled from the table, then the two are exchanged (the materialized
-- views write by name, so they follow), and the old one dropped. Running it again is
-- safe for the data: the states are idempotent (uniqExact, argMax, min, max), so a copy
-- filled twice holds the same values. On a cluster the copy is filled in the foreground,
-- so every shard holds its rows before the exchange.

CREATE TABLE IF NOT EXISTS chatnight.session_authors_agg_next
(
    community  LowCardinality(String),
    session_id String,
    author_id  String,
    followers  UInt64,
    kind       LowCardinality(String),
    handle     AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    name       AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    is_host    SimpleAggregateFunction(max, UInt8),
    first_at   SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_at    SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    posts      AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (community, session_id, author_id, followers, kind)
SETTINGS index_granularity_bytes = 262144;

INSERT INTO chatnight.session_authors_agg_next SETTINGS distributed_foreground_insert = 1 SELECT * FROM chatnight.session_authors_agg;

EXCHANGE TABLES chatnight.session_authors_agg AND chatnight.session_authors_agg_next;

DROP TABLE IF EXISTS chatnight.session_authors_agg_next;

CREATE TABLE IF NOT EXISTS chatnight.session_terms_agg_next
(
    community  LowCardinality(String),
    session_id String,
    dim        LowCardinality(String),
    value      String,
    posts      AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (community, session_id, dim, value)
SETTINGS index_granularity_bytes = 262144;

INSERT INTO chatnight.session_terms_agg_next SETTINGS distributed_foreground_insert = 1 SELECT * FROM chatnight.session_terms_agg;

EXCHANGE TABLES chatnight.session_terms_agg AND chatnight.session_terms_agg_next;

DROP TABLE IF EXISTS chatnight.session_terms_agg_next;

CREATE TABLE IF NOT EXISTS chatnight.session_edges_agg_next
(
    community  LowCardinality(String),
    session_id String,
    src        String,
    dst        String,
    kind       LowCardinality(String),
    weight     AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (community, session_id, src, dst, kind)
SETTINGS index_granularity_bytes = 262144;

INSERT INTO chatnight.session_edges_agg_next SETTINGS distributed_foreground_insert = 1 SELECT * FROM chatnight.session_edges_agg;

EXCHANGE TABLES chatnight.session_edges_agg AND chatnight.session_edges_agg_next;

DROP TABLE IF EXISTS chatnight.session_edges_agg_next;

CREATE TABLE IF NOT EXISTS chatnight.minute_activity_agg_next
(
    community  LowCardinality(String),
    session_id String,
    minute     DateTime('UTC'),
    posts      AggregateFunction(uniqExact, String),
    authors    AggregateFunction(uniqExact, String),
    replies    AggregateFunction(uniqExact, String),
    reposts    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (community, minute, session_id)
SETTINGS index_granularity_bytes = 262144;

INSERT INTO chatnight.minute_activity_agg_next SETTINGS distributed_foreground_insert = 1 SELECT * FROM chatnight.minute_activity_agg;

EXCHANGE TABLES chatnight.minute_activity_agg AND chatnight.minute_activity_agg_next;

DROP TABLE IF EXISTS chatnight.minute_activity_agg_next;
