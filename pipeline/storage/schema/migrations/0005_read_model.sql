-- The read model: every number a page, the API, a report, an export or Grafana shows
-- about a session is read from here, so they all agree.
--
-- 1. Detected sessions are stored when written. Posts outside every scheduled slot keep
--    carrying their cell (a session_gap-long slice of time) as session_id: that value
--    is a function of the post's time alone, so it never changes and the aggregates
--    below, keyed on it, stay exact. After each write the processor (package
--    pipeline/bursts) groups the community's cells into bursts (session_spans says when
--    each cell's first and last posts are) and records, per cell, the detected session
--    it belongs to (detected_cells) and the session itself (bursts). A session keeps
--    its id as it grows; when a late post bridges two sessions, the later one gets a
--    newer bursts row with merged_into set, and its cells a newer detected_cells row
--    naming the survivor. Both tables are small (one row per cell or session) and read
--    with FINAL.
-- 2. session_ids maps every stored session_id (a scheduled session's id, a cell) to the
--    session it is part of: filter any table on the resolved session_id through it.
-- 3. Aggregates kept at write time by materialized views, keyed by the stored
--    session_id, exact under redelivery (uniqExact of post ids, min and max): a
--    session's numbers read its rows by primary key, never the posts table.

-- When each stored session id's first and last posts are.
CREATE TABLE IF NOT EXISTS chatnight.session_spans
(
    community  LowCardinality(String),
    session_id String,
    first_at   SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_at    SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (community, session_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.session_spans_mv TO chatnight.session_spans AS
SELECT community, session_id, min(created_at) AS first_at, max(created_at) AS last_at
FROM chatnight.posts
WHERE session_id != ''
GROUP BY community, session_id;

-- The detected session each cell belongs to (newest version wins).
CREATE TABLE IF NOT EXISTS chatnight.detected_cells
(
    community  LowCardinality(String),
    cell       String,
    session_id String,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, cell);

-- Detected sessions: first and last post; merged_into names the session that absorbed
-- this one ('' while it stands on its own).
CREATE TABLE IF NOT EXISTS chatnight.bursts
(
    community   LowCardinality(String),
    id          String,
    start       DateTime64(3, 'UTC'),
    `end`       DateTime64(3, 'UTC'),
    merged_into String,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (community, id);

-- A session's posts by author, follower count and kind. Participants, posts by kind,
-- reach (followers of the unique authors) and impressions (followers summed over
-- posts) all come from here.
CREATE TABLE IF NOT EXISTS chatnight.session_authors_agg
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
ORDER BY (community, session_id, author_id, followers, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.session_authors_mv TO chatnight.session_authors_agg AS
SELECT
    community, session_id, author_id, author_followers AS followers, kind,
    argMaxState(author_handle, created_at) AS handle,
    argMaxState(author_name, created_at) AS name,
    max(toUInt8(is_host)) AS is_host,
    min(created_at) AS first_at,
    max(created_at) AS last_at,
    uniqExactState(id) AS posts
FROM chatnight.posts
WHERE session_id != ''
GROUP BY community, session_id, author_id, followers, kind;

-- Where each author first posted in the community: a newcomer of a session is an author
-- whose first post is in it (the one rule for newcomers).
CREATE TABLE IF NOT EXISTS chatnight.author_first_agg
(
    community  LowCardinality(String),
    author_id  String,
    first_at   SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    first_post AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), String))
)
ENGINE = AggregatingMergeTree
ORDER BY (community, author_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.author_first_mv TO chatnight.author_first_agg AS
SELECT community, author_id, min(created_at) AS first_at, argMinState(session_id, (created_at, id)) AS first_post
FROM chatnight.posts
WHERE session_id != ''
GROUP BY community, author_id;

-- Hashtags, links, sites, languages and sources of a session, by posts using them.
CREATE TABLE IF NOT EXISTS chatnight.session_terms_agg
(
    community  LowCardinality(String),
    session_id String,
    dim        LowCardinality(String),
    value      String,
    posts      AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (community, session_id, dim, value);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.session_terms_mv TO chatnight.session_terms_agg AS
SELECT community, session_id, t.1 AS dim, t.2 AS value, uniqExactState(id) AS posts
FROM chatnight.posts
ARRAY JOIN arrayConcat(
    arrayMap(h -> ('hashtag', toString(h)), hashtags),
    arrayMap(u -> ('url', u), urls),
    arrayFilter(x -> x.2 != '', arrayMap(u -> ('domain', domainWithoutWWW(u)), urls)),
    [('lang', toString(lang)), ('source', toString(source))]) AS t
WHERE session_id != ''
GROUP BY community, session_id, dim, value;

-- Interaction weights of a session: interactions (posts) per source, target and kind.
CREATE TABLE IF NOT EXISTS chatnight.session_edges_agg
(
    community  LowCardinality(String),
    session_id String,
    src        String,
    dst        String,
    kind       LowCardinality(String),
    weight     AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (community, session_id, src, dst, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.session_edges_mv TO chatnight.session_edges_agg AS
SELECT community, session_id, src, dst, kind, uniqExactState(post_id) AS weight
FROM chatnight.edge_events
GROUP BY community, session_id, src, dst, kind;

-- The latest handle of every account seen, as author or mentioned, to name accounts
-- that were replied to or mentioned without posting.
CREATE TABLE IF NOT EXISTS chatnight.account_handles
(
    community  LowCardinality(String),
    account_id String,
    handle     AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (community, account_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.account_handles_mv TO chatnight.account_handles AS
SELECT community, t.1 AS account_id, argMaxState(t.2, created_at) AS handle
FROM chatnight.posts
ARRAY JOIN arrayConcat([(author_id, author_handle)],
    if(length(mention_ids) = length(mention_handles), arrayZip(mention_ids, mention_handles), [])) AS t
WHERE t.1 != '' AND t.2 != ''
GROUP BY community, account_id;

-- Data stored before this migration (running it again only merges the same states).
INSERT INTO chatnight.session_spans (community, session_id, first_at, last_at)
SELECT community, session_id, min(created_at), max(created_at)
FROM chatnight.posts
WHERE session_id != ''
GROUP BY community, session_id;

INSERT INTO chatnight.session_authors_agg
SELECT community, session_id, author_id, author_followers, kind,
       argMaxState(author_handle, created_at), argMaxState(author_name, created_at),
       max(toUInt8(is_host)), min(created_at), max(created_at), uniqExactState(id)
FROM chatnight.posts
WHERE session_id != ''
GROUP BY community, session_id, author_id, author_followers, kind;

INSERT INTO chatnight.author_first_agg
SELECT community, author_id, min(created_at), argMinState(session_id, (created_at, id))
FROM chatnight.posts
WHERE session_id != ''
GROUP BY community, author_id;

INSERT INTO chatnight.session_terms_agg
SELECT community, session_id, t.1 AS dim, t.2 AS value, uniqExactState(id)
FROM chatnight.posts
ARRAY JOIN arrayConcat(
    arrayMap(h -> ('hashtag', toString(h)), hashtags),
    arrayMap(u -> ('url', u), urls),
    arrayFilter(x -> x.2 != '', arrayMap(u -> ('domain', domainWithoutWWW(u)), urls)),
    [('lang', toString(lang)), ('source', toString(source))]) AS t
WHERE session_id != ''
GROUP BY community, session_id, dim, value;

INSERT INTO chatnight.session_edges_agg
SELECT community, session_id, src, dst, kind, uniqExactState(post_id)
FROM chatnight.edge_events
GROUP BY community, session_id, src, dst, kind;

INSERT INTO chatnight.account_handles
SELECT community, t.1 AS account_id, argMaxState(t.2, created_at)
FROM chatnight.posts
ARRAY JOIN arrayConcat([(author_id, author_handle)],
    if(length(mention_ids) = length(mention_handles), arrayZip(mention_ids, mention_handles), [])) AS t
WHERE t.1 != '' AND t.2 != ''
GROUP BY community, account_id;

-- Detected sessions found by the read-time views of 0002, stored once (version 1; the
-- processor's rows are newer).
INSERT INTO chatnight.detected_cells (community, cell, session_id, version)
SELECT community, arrayJoin(cells), id, 1
FROM chatnight.detected_sessions;

INSERT INTO chatnight.bursts (community, id, start, `end`, merged_into, version)
SELECT community, id, start, `end`, '', 1
FROM chatnight.detected_sessions;

-- The read-time views of 0002 give way to views over the stored tables.
DROP VIEW IF EXISTS chatnight.edges_resolved;

DROP VIEW IF EXISTS chatnight.qa_resolved;

DROP VIEW IF EXISTS chatnight.session_cells;

DROP VIEW IF EXISTS chatnight.all_sessions;

DROP VIEW IF EXISTS chatnight.detected_sessions;

-- Every stored session_id and the session it is part of: a scheduled session's id is
-- its own, a cell's is its detected session.
CREATE VIEW IF NOT EXISTS chatnight.session_ids AS
SELECT toString(community) AS community, cell AS stored_id, session_id
FROM chatnight.detected_cells FINAL
UNION ALL
SELECT toString(community) AS community, id AS stored_id, id AS session_id
FROM chatnight.sessions FINAL
WHERE kind = 'scheduled';

CREATE VIEW IF NOT EXISTS chatnight.session_cells AS
SELECT toString(community) AS community, cell, session_id
FROM chatnight.detected_cells FINAL;

CREATE VIEW IF NOT EXISTS chatnight.detected_sessions AS
SELECT toString(b.community) AS community, b.id AS id, 'detected' AS kind, b.start AS start, b.`end` AS `end`,
       c.cells AS cells
FROM chatnight.bursts AS b FINAL
LEFT JOIN
(
    SELECT community, session_id, arraySort(groupArray(cell)) AS cells
    FROM chatnight.detected_cells FINAL
    GROUP BY community, session_id
) AS c ON c.community = b.community AND c.session_id = b.id
WHERE b.merged_into = '';

-- Every session: scheduled and detected. The sessions list, the API, reports and
-- Grafana's session picker read this.
CREATE VIEW IF NOT EXISTS chatnight.all_sessions AS
SELECT toString(community) AS community, id, toString(kind) AS kind, start, `end`, hosts
FROM chatnight.sessions FINAL
WHERE kind = 'scheduled'
UNION ALL
SELECT toString(community) AS community, id, 'detected' AS kind, start, `end`, CAST([], 'Array(String)') AS hosts
FROM chatnight.bursts FINAL
WHERE merged_into = '';

-- Per session (resolved) and author: posts by kind, followers, impressions, first post
-- in the session, and whether the author is a newcomer (their first post in the
-- community is in this session). Opted-out accounts are counted; hidden says so, and
-- whoever shows a handle must show a pseudonym instead.
CREATE VIEW IF NOT EXISTS chatnight.session_authors AS
SELECT
    community, session_id, author_id,
    any(h) AS handle,
    sum(n) AS posts,
    sumIf(n, kind = 'original') AS originals,
    sumIf(n, kind = 'reply') AS replies,
    sumIf(n, kind = 'repost') AS reposts,
    sumIf(n, kind = 'quote') AS quotes,
    max(fl) AS followers,
    sum(fl * n) AS impressions,
    min(fh) AS first_here,
    any(nc) AS newcomer,
    lower(author_id) IN (SELECT subject FROM chatnight.optouts FINAL WHERE deleted = 0)
        OR lower(handle) IN (SELECT subject FROM chatnight.optouts FINAL WHERE deleted = 0) AS hidden
FROM
(
    SELECT toString(a.community) AS community, m.session_id AS session_id, a.author_id AS author_id,
           toString(a.kind) AS kind, a.followers AS fl,
           uniqExactMerge(a.posts) AS n, argMaxMerge(a.handle) AS h, min(a.first_at) AS fh,
           any(f.first_session) = m.session_id AS nc
    FROM chatnight.session_authors_agg AS a
    INNER JOIN chatnight.session_ids AS m ON m.community = a.community AND m.stored_id = a.session_id
    LEFT JOIN
    (
        SELECT af.community AS community, af.author_id AS author_id, fm.session_id AS first_session
        FROM
        (
            SELECT toString(community) AS community, author_id, argMinMerge(first_post) AS first_stored
            FROM chatnight.author_first_agg
            GROUP BY community, author_id
        ) AS af
        INNER JOIN chatnight.session_ids AS fm ON fm.community = af.community AND fm.stored_id = af.first_stored
    ) AS f ON f.community = a.community AND f.author_id = a.author_id
    GROUP BY community, session_id, author_id, kind, fl
)
GROUP BY community, session_id, author_id;

-- Per session (resolved): posts by kind, participants, newcomers, reach, impressions.
-- The numbers of GET /api/communities/{id}/sessions and /api/sessions/{id}/stats.
CREATE VIEW IF NOT EXISTS chatnight.session_totals AS
SELECT
    community, session_id,
    sum(posts) AS posts, sum(originals) AS originals, sum(replies) AS replies,
    sum(reposts) AS reposts, sum(quotes) AS quotes,
    count() AS participants,
    countIf(newcomer) AS newcomers,
    participants - newcomers AS returning,
    sum(followers) AS potential_reach,
    sum(impressions) AS impressions
FROM chatnight.session_authors
GROUP BY community, session_id;

-- Hashtags, links, sites, languages and sources per session (resolved), by posts.
CREATE VIEW IF NOT EXISTS chatnight.session_terms AS
SELECT toString(t.community) AS community, m.session_id AS session_id, toString(t.dim) AS dim, t.value AS value,
       uniqExactMerge(t.posts) AS posts
FROM chatnight.session_terms_agg AS t
INNER JOIN chatnight.session_ids AS m ON m.community = t.community AND m.stored_id = t.session_id
GROUP BY community, session_id, dim, value;

-- Per-minute activity per session (resolved), for Grafana's panels.
CREATE VIEW IF NOT EXISTS chatnight.session_minutes AS
SELECT toString(a.community) AS community, m.session_id AS session_id, a.minute AS minute,
       uniqExactMerge(a.posts) AS posts, uniqExactMerge(a.authors) AS authors,
       uniqExactMerge(a.replies) AS replies, uniqExactMerge(a.reposts) AS reposts
FROM chatnight.minute_activity_agg AS a
INNER JOIN chatnight.session_ids AS m ON m.community = a.community AND m.stored_id = a.session_id
GROUP BY community, session_id, minute;

-- Q/A with detected sessions resolved: session_id is the session, stored_session_id
-- what qa_marks holds; an answer links to the first question of its number in its
-- session.
CREATE VIEW IF NOT EXISTS chatnight.qa_resolved AS
WITH marks AS
(
    SELECT
        toString(m.community) AS community,
        if(sc.session_id != '', sc.session_id, m.session_id) AS resolved_session_id,
        m.session_id AS stored_session_id,
        m.kind AS kind,
        m.number AS number,
        m.post_id AS post_id,
        m.author_id AS author_id,
        m.created_at AS created_at
    FROM chatnight.qa_marks AS m FINAL
    LEFT JOIN chatnight.session_ids AS sc ON m.community = sc.community AND m.session_id = sc.stored_id
)
SELECT
    a.community AS community,
    a.resolved_session_id AS session_id,
    a.stored_session_id AS stored_session_id,
    a.kind AS kind,
    a.number AS number,
    a.post_id AS post_id,
    a.author_id AS author_id,
    a.created_at AS created_at,
    if(a.kind = 'answer', q.question_post_id, '') AS question_post_id
FROM marks AS a
LEFT JOIN
(
    SELECT community, resolved_session_id, number, argMin(post_id, (created_at, post_id)) AS question_post_id
    FROM marks
    WHERE kind = 'question'
    GROUP BY community, resolved_session_id, number
) AS q ON a.community = q.community AND a.resolved_session_id = q.resolved_session_id AND a.number = q.number;

-- Edge weights per session (resolved), from the write-time aggregate.
CREATE VIEW IF NOT EXISTS chatnight.edges_resolved AS
SELECT community, session_id, src, dst, kind, sum(w) AS weight
FROM
(
    SELECT toString(e.community) AS community, if(sc.session_id != '', sc.session_id, e.session_id) AS session_id,
           e.src AS src, e.dst AS dst, toString(e.kind) AS kind, uniqExactMerge(e.weight) AS w
    FROM chatnight.session_edges_agg AS e
    LEFT JOIN chatnight.session_ids AS sc ON e.community = sc.community AND e.session_id = sc.stored_id
    GROUP BY community, session_id, e.session_id, src, dst, kind
)
GROUP BY community, session_id, src, dst, kind;
