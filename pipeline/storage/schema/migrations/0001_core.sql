-- Core tables. Every table deduplicates on its natural key (ReplacingMergeTree), so a
-- batch written twice after a crash changes nothing: read with FINAL for exact answers.

CREATE DATABASE IF NOT EXISTS chatnight;

-- One row per post and community. The newest version wins (a post is written again
-- when late information arrives, such as the root of its thread).
CREATE TABLE IF NOT EXISTS chatnight.posts
(
    id                  String,
    community           LowCardinality(String),
    source              LowCardinality(String),
    kind                LowCardinality(String),
    author_id           String,
    author_handle       String,
    author_name         String,
    author_followers    UInt64,
    created_at          DateTime64(3, 'UTC'),
    text                String,
    lang                LowCardinality(String),
    url                 String,
    reply_to_id         String,
    reply_to_author_id  String,
    root_id             String,
    depth               UInt16,
    quote_of_id         String,
    quote_of_author_id  String,
    repost_of_id        String,
    repost_of_author_id String,
    mention_ids         Array(String),
    mention_handles     Array(String),
    hashtags            Array(LowCardinality(String)),
    urls                Array(String),
    session_id          String,
    is_host             Bool,
    raw                 String CODEC(ZSTD(3)),
    ingested_at         DateTime64(3, 'UTC'),
    version             UInt64,
    INDEX idx_id id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_reply_to reply_to_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_author author_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, created_at, id);

-- Chat sessions: scheduled ones from the communities config, detected ones from bursts.
CREATE TABLE IF NOT EXISTS chatnight.sessions
(
    id        String,
    community LowCardinality(String),
    start     DateTime64(3, 'UTC'),
    `end`     DateTime64(3, 'UTC'),
    kind      LowCardinality(String),
    hosts     Array(String),
    version   UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, id);

-- Tweetchat marks found in posts: Q1 (question), A1 (answer), T1 (topic).
CREATE TABLE IF NOT EXISTS chatnight.qa_marks
(
    community   LowCardinality(String),
    session_id  String,
    kind        LowCardinality(String),
    number      UInt16,
    post_id     String,
    author_id   String,
    created_at  DateTime64(3, 'UTC'),
    reply_to_id String,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, session_id, kind, number, post_id);

-- The answer-to-question links are resolved when read, so an answer that arrives
-- before its question is linked as soon as the question is stored.
CREATE VIEW IF NOT EXISTS chatnight.qa AS
SELECT
    m.community AS community,
    m.session_id AS session_id,
    m.kind AS kind,
    m.number AS number,
    m.post_id AS post_id,
    m.author_id AS author_id,
    m.created_at AS created_at,
    if(m.kind = 'answer', q.question_post_id, '') AS question_post_id
FROM chatnight.qa_marks AS m FINAL
LEFT JOIN
(
    SELECT session_id, number, argMin(post_id, created_at) AS question_post_id
    FROM chatnight.qa_marks FINAL
    WHERE kind = 'question'
    GROUP BY session_id, number
) AS q ON m.session_id = q.session_id AND m.number = q.number;

-- One row per interaction; weights are counted when read, so redelivery cannot inflate them.
CREATE TABLE IF NOT EXISTS chatnight.edge_events
(
    community  LowCardinality(String),
    session_id String,
    src        String,
    dst        String,
    kind       LowCardinality(String),
    post_id    String,
    created_at DateTime64(3, 'UTC'),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, session_id, kind, src, dst, post_id);

CREATE VIEW IF NOT EXISTS chatnight.edges AS
SELECT community, session_id, src, dst, kind, count() AS weight
FROM chatnight.edge_events FINAL
GROUP BY community, session_id, src, dst, kind;

-- Participants: aggregate states are idempotent (min, uniqExact), so posts written
-- twice count once.
CREATE TABLE IF NOT EXISTS chatnight.participants_agg
(
    community  LowCardinality(String),
    author_id  String,
    handle     SimpleAggregateFunction(anyLast, String),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen  SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    sessions   AggregateFunction(uniqExact, String),
    posts      AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (community, author_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.participants_mv TO chatnight.participants_agg AS
SELECT
    community,
    author_id,
    anyLast(author_handle) AS handle,
    min(created_at) AS first_seen,
    max(created_at) AS last_seen,
    uniqExactStateIf(session_id, session_id != '') AS sessions,
    uniqExactState(id) AS posts
FROM chatnight.posts
GROUP BY community, author_id;

CREATE VIEW IF NOT EXISTS chatnight.participants AS
SELECT
    community,
    author_id,
    anyLast(handle) AS handle,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen,
    uniqExactMerge(sessions) AS sessions,
    uniqExactMerge(posts) AS posts
FROM chatnight.participants_agg
GROUP BY community, author_id;

-- Per-minute activity for the live view and Grafana, exact under redelivery.
CREATE TABLE IF NOT EXISTS chatnight.minute_activity_agg
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
ORDER BY (community, minute, session_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.minute_activity_mv TO chatnight.minute_activity_agg AS
SELECT
    community,
    session_id,
    toStartOfMinute(created_at) AS minute,
    uniqExactState(id) AS posts,
    uniqExactState(author_id) AS authors,
    uniqExactStateIf(id, kind = 'reply') AS replies,
    uniqExactStateIf(id, kind = 'repost') AS reposts
FROM chatnight.posts
GROUP BY community, session_id, minute;

CREATE VIEW IF NOT EXISTS chatnight.minute_activity AS
SELECT
    community,
    session_id,
    minute,
    uniqExactMerge(posts) AS posts,
    uniqExactMerge(authors) AS authors,
    uniqExactMerge(replies) AS replies,
    uniqExactMerge(reposts) AS reposts
FROM chatnight.minute_activity_agg
GROUP BY community, session_id, minute;
