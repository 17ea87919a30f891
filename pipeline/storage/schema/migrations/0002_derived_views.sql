-- Views over what pipeline/derive writes: threads, detected sessions, and Q/A and edges
-- with detected sessions resolved. All are computed when read, over FINAL, so they are
-- exact whatever order posts arrived in and however often they were written.

-- Reply threads: one row per thread root. size counts the thread's posts that are
-- stored (the root too, when has_root), replies those that are not the root. session_id
-- is that of the thread's first post. Reposts are not part of threads.
CREATE VIEW IF NOT EXISTS chatnight.threads AS
SELECT
    community,
    root_id,
    argMin(session_id, created_at) AS session_id,
    count() AS size,
    countIf(id != root_id) AS replies,
    max(depth) AS max_depth,
    uniqExact(author_id) AS participants,
    min(created_at) AS first_post_at,
    max(created_at) AS last_post_at,
    countIf(id = root_id) > 0 AS has_root
FROM chatnight.posts FINAL
WHERE kind != 'repost' AND root_id != ''
GROUP BY community, root_id;

-- The participant graph over all sessions (and outside them).
CREATE VIEW IF NOT EXISTS chatnight.edges_all_time AS
SELECT
    community,
    src,
    dst,
    kind,
    count() AS weight,
    min(created_at) AS first_at,
    max(created_at) AS last_at
FROM chatnight.edge_events FINAL
GROUP BY community, src, dst, kind;

-- Detected sessions: activity outside every scheduled slot (all of it in unscheduled
-- communities). Such posts carry the id of their cell (a session_gap-long slice of
-- time, a sessions row of kind 'cell' whose length is the gap). A cell never spans two bursts, so bursts are runs of cells: a new one
-- starts where the silence between a cell's first post and the previous cell's last
-- post is at least the gap. A detected session is named after its first cell; cells
-- lists the session_id values its posts carry. Same rule as sessions.Detect.
CREATE VIEW IF NOT EXISTS chatnight.detected_sessions AS
SELECT
    community,
    argMin(cell, first_at) AS id,
    'detected' AS kind,
    min(first_at) AS start,
    max(last_at) AS `end`,
    arraySort(groupArray(cell)) AS cells,
    sum(posts) AS posts,
    uniqExactMerge(authors) AS authors
FROM
(
    SELECT
        community, cell, first_at, last_at, posts, authors,
        sum(new_burst) OVER (PARTITION BY community ORDER BY first_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS burst
    FROM
    (
        SELECT
            community, cell, first_at, last_at, posts, authors,
            toUInt64(row_number() OVER w = 1
                OR dateDiff('millisecond', lagInFrame(last_at) OVER w, first_at) >= gap_ms) AS new_burst
        FROM
        (
            SELECT
                p.community AS community,
                p.session_id AS cell,
                min(p.created_at) AS first_at,
                max(p.created_at) AS last_at,
                count() AS posts,
                uniqExactState(p.author_id) AS authors,
                any(c.gap_ms) AS gap_ms
            FROM chatnight.posts AS p FINAL
            INNER JOIN
            (
                SELECT community, id, dateDiff('millisecond', start, `end`) AS gap_ms
                FROM chatnight.sessions FINAL
                WHERE kind = 'cell'
            ) AS c ON p.community = c.community AND p.session_id = c.id
            GROUP BY p.community, p.session_id
        )
        WINDOW w AS (PARTITION BY community ORDER BY first_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
)
GROUP BY community, burst;

-- Every session: scheduled ones from the sessions table, detected ones from the view.
CREATE VIEW IF NOT EXISTS chatnight.all_sessions AS
SELECT community, id, toString(kind) AS kind, start, `end`, hosts
FROM chatnight.sessions FINAL
WHERE kind = 'scheduled'
UNION ALL
SELECT community, id, kind, start, `end`, CAST([], 'Array(String)') AS hosts
FROM chatnight.detected_sessions;

-- Maps each stored session_id to the session it is part of: a cell to its detected
-- session. Session ids that are not cells are not listed (they are their own session).
CREATE VIEW IF NOT EXISTS chatnight.session_cells AS
SELECT community, arrayJoin(cells) AS cell, id AS session_id
FROM chatnight.detected_sessions;

-- The qa view with detected sessions resolved: in a detected session a question
-- and its answers may carry different cells of the same detected session. session_id is
-- the resolved session, stored_session_id what qa_marks holds. For scheduled sessions
-- this is the qa view.
CREATE VIEW IF NOT EXISTS chatnight.qa_resolved AS
WITH marks AS
(
    SELECT
        m.community AS community,
        if(sc.session_id != '', sc.session_id, m.session_id) AS resolved_session_id,
        m.session_id AS stored_session_id,
        m.kind AS kind,
        m.number AS number,
        m.post_id AS post_id,
        m.author_id AS author_id,
        m.created_at AS created_at
    FROM chatnight.qa_marks AS m FINAL
    LEFT JOIN chatnight.session_cells AS sc ON m.community = sc.community AND m.session_id = sc.cell
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

-- The edges view with detected sessions resolved (see qa_resolved).
CREATE VIEW IF NOT EXISTS chatnight.edges_resolved AS
SELECT community, resolved_session_id AS session_id, src, dst, kind, count() AS weight
FROM
(
    SELECT
        e.community AS community,
        if(sc.session_id != '', sc.session_id, e.session_id) AS resolved_session_id,
        e.src AS src,
        e.dst AS dst,
        e.kind AS kind
    FROM chatnight.edge_events AS e FINAL
    LEFT JOIN chatnight.session_cells AS sc ON e.community = sc.community AND e.session_id = sc.cell
)
GROUP BY community, resolved_session_id, src, dst, kind;
