-- People in SQL (package people): the processor resolves the accounts it sees that
-- evidence or the communities file may link, and stores each linked account's person
-- here: the person's id (the smallest of its account ids) and why its accounts are
-- linked. An account without a row is a person of its own. When a new link merges two
-- people, every account of the merged person gets a newer row.
CREATE TABLE IF NOT EXISTS chatnight.account_people
(
    account_id String,
    person_id  String,
    why        Array(String),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY account_id;

-- Per session (resolved) and person: session_authors with each person's accounts
-- merged, as the read model merges them (web/readmodel byPerson): posts, followers
-- and impressions summed; the handle of the account with the most posts (the smallest
-- id on a tie); a newcomer when every account is one; hidden when any account opted
-- out, and then shown as "(opted out)" with no segment.
CREATE VIEW IF NOT EXISTS chatnight.session_people AS
SELECT
    a.community AS community, a.session_id AS session_id,
    if(p.person_id != '', p.person_id, a.author_id) AS person_id,
    argMin(a.handle, (-toInt64(a.posts), a.author_id)) AS handle,
    arraySort(groupArray(a.author_id)) AS accounts,
    any(p.why) AS why,
    sum(a.posts) AS posts,
    sum(a.originals) AS originals,
    sum(a.replies) AS replies,
    sum(a.reposts) AS reposts,
    sum(a.quotes) AS quotes,
    sum(a.followers) AS followers,
    sum(a.impressions) AS impressions,
    min(a.first_here) AS first_here,
    min(a.newcomer) AS newcomer,
    max(a.hidden) AS hidden
FROM chatnight.session_authors AS a
LEFT JOIN
(
    SELECT account_id, person_id, why FROM chatnight.account_people FINAL
) AS p ON p.account_id = a.author_id
GROUP BY community, session_id, person_id;

-- Per session (resolved), counting people: what the API, the viewer and reports show
-- (session_totals counts accounts, as ?people=accounts does).
CREATE VIEW IF NOT EXISTS chatnight.session_people_totals AS
SELECT
    community, session_id,
    sum(posts) AS posts, sum(originals) AS originals, sum(replies) AS replies,
    sum(reposts) AS reposts, sum(quotes) AS quotes,
    count() AS participants,
    countIf(newcomer) AS newcomers,
    participants - newcomers AS returning,
    sum(followers) AS potential_reach,
    sum(impressions) AS impressions
FROM chatnight.session_people
GROUP BY community, session_id;

-- Per session (resolved), person and segment: a person holds every segment of their
-- accounts (account_segments), as the read model's stats count segments. Hidden
-- people (any account opted out) hold none. posts are the person's in the session.
CREATE VIEW IF NOT EXISTS chatnight.session_segments AS
SELECT x.community AS community, x.session_id AS session_id, x.person_id AS person_id,
       toString(segment) AS segment, any(x.posts) AS posts
FROM
(
    SELECT community, session_id, person_id, posts, account
    FROM chatnight.session_people
    ARRAY JOIN accounts AS account
    WHERE NOT hidden
) AS x
INNER JOIN
(
    SELECT toString(community) AS community, account_id, segments FROM chatnight.account_segments FINAL
) AS s ON s.community = x.community AND s.account_id = x.account
ARRAY JOIN s.segments AS segment
GROUP BY community, session_id, person_id, segment;
