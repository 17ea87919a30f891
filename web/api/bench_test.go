package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/web/api"
	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// The benchmark store: CHATNIGHT_BENCH_POSTS posts (default 10 million) over
// benchSessions daily sessions of community "bench", 10,000 posts an hour-long session
// at the default size, generated inside ClickHouse with INSERT ... SELECT FROM
// numbers() in chunks, so that the materialized views see ordinary inserts.
const benchSessions = 1000

var benchStart = time.Date(2020, 1, 1, 20, 0, 0, 0, time.UTC)

// Statements of the generator; {n} columns derive everything from the row number.
const (
	benchInsertSessions = `
INSERT INTO chatnight.sessions (id, community, start, ` + "`end`" + `, kind, hosts, version)
SELECT concat('bench-', leftPad(toString(number), 4, '0')), 'bench',
       toDateTime64('2020-01-01 20:00:00', 3, 'UTC') + toIntervalDay(number),
       toDateTime64('2020-01-01 21:00:00', 3, 'UTC') + toIntervalDay(number),
       'scheduled', ['sim:@bench_host'], 1
FROM numbers({sessions:UInt32})`

	// Session s = n / per; authors come from a pool of 5,000 with ~400 per session that
	// drift from session to session; kinds cycle; every tenth post links, every fifth
	// mentions, every seventh carries a second hashtag.
	benchInsertPosts = `
INSERT INTO chatnight.posts (id, community, source, kind, author_id, author_handle, author_name, author_followers,
    created_at, text, lang, url, reply_to_id, reply_to_author_id, root_id, depth, quote_of_id, quote_of_author_id,
    repost_of_id, repost_of_author_id, mention_ids, mention_handles, hashtags, urls, session_id, is_host, raw,
    ingested_at, version)
SELECT
    concat('bench:', toString(n)) AS id, 'bench', if(n % 3 = 0, 'mastodon', 'x'),
    multiIf(n % 10 < 5, 'original', n % 10 < 8, 'reply', n % 10 = 8, 'repost', 'quote') AS kind,
    concat('bench:u', toString(a)) AS author, concat('u', toString(a)), concat('User ', toString(a)), (a * 37) % 5000,
    toDateTime64('2020-01-01 20:00:00', 3, 'UTC') + toIntervalDay(s) + toIntervalMillisecond(intDiv((n % per) * 3600000, per)),
    concat('post ', toString(n), ' #bench'), if(n % 11 = 0, 'es', 'en'), '',
    if(kind = 'reply', concat('bench:', toString(n - 1)), ''), if(kind = 'reply', concat('bench:u', toString(b)), ''),
    '', toUInt16(kind = 'reply'),
    if(kind = 'quote', concat('bench:', toString(n - 2)), ''), if(kind = 'quote', concat('bench:u', toString(b)), ''),
    if(kind = 'repost', concat('bench:', toString(n - 3)), ''), if(kind = 'repost', concat('bench:u', toString(b)), ''),
    if(n % 5 = 0, [concat('bench:u', toString(c))], []), if(n % 5 = 0, [concat('u', toString(c))], []),
    if(n % 7 = 0, ['bench', 'nursing'], ['bench']),
    if(n % 10 = 0, [concat('https://example', toString(n % 50), '.org/a/', toString(n % 200))], []),
    concat('bench-', leftPad(toString(s), 4, '0')), false, '', now64(3), 1
FROM
(
    SELECT number AS n, {per:UInt64} AS per, intDiv(number, per) AS s,
           (s * 13 + (cityHash64(number) % 400)) % 5000 AS a,
           (s * 13 + (cityHash64(number + 1) % 400)) % 5000 AS b,
           (s * 13 + (cityHash64(number + 2) % 400)) % 5000 AS c
    FROM numbers({first:UInt64}, {count:UInt64})
)`

	benchInsertEdges = `
INSERT INTO chatnight.edge_events (community, session_id, src, dst, kind, post_id, created_at, version)
SELECT community, session_id, author_id, dst, k, id, created_at, 1
FROM
(
    SELECT community, session_id, author_id, id, created_at,
           arrayJoin(arrayFilter(x -> x.1 != '' AND x.1 != author_id, [
               (reply_to_author_id, 'reply'), (quote_of_author_id, 'quote'), (repost_of_author_id, 'repost'),
               (if(length(mention_ids) > 0, mention_ids[1], ''), 'mention')])) AS e,
           e.1 AS dst, e.2 AS k
    FROM chatnight.posts
    WHERE community = 'bench' AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
)`

	benchInsertMarks = `
INSERT INTO chatnight.qa_marks (community, session_id, kind, number, post_id, author_id, created_at, reply_to_id, version)
SELECT community, session_id, if(toUInt64(substring(id, 7)) % 1000 = 1, 'question', 'answer'),
       toUInt16(intDiv(toUInt64(substring(id, 7)) % {per:UInt64}, intDiv({per:UInt64}, 10)) + 1), id, author_id, created_at, '', 1
FROM chatnight.posts
WHERE community = 'bench' AND kind = 'original' AND (toUInt64(substring(id, 7)) % 1000 = 1 OR toUInt64(substring(id, 7)) % 20 = 2)`
)

func benchPosts() uint64 {
	if s := os.Getenv("CHATNIGHT_BENCH_POSTS"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil && n >= benchSessions*10 {
			return n
		}
	}
	return 10_000_000
}

func BenchmarkEndpoints(b *testing.B) {
	env := chdbtest.Start(b)
	ctx := context.Background()
	total := benchPosts()
	per := total / benchSessions
	p := func(kv ...string) context.Context {
		params := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			params[kv[i]] = kv[i+1]
		}
		return chCtx(ctx, params)
	}
	var have uint64
	if err := env.Conn.QueryRow(ctx, "SELECT count() FROM chatnight.posts WHERE community = 'bench'").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		start := time.Now()
		if err := env.Conn.Exec(p("sessions", strconv.Itoa(benchSessions)), benchInsertSessions); err != nil {
			b.Fatal(err)
		}
		// 200,000 rows an insert: each one, with the aggregates it feeds, stays well inside
		// the client's read timeout on a loaded machine.
		const chunk = 200_000
		for first := uint64(0); first < per*benchSessions; first += chunk {
			count := min(chunk, per*benchSessions-first)
			if err := env.Conn.Exec(p("per", fmt.Sprint(per), "first", fmt.Sprint(first), "count", fmt.Sprint(count)), benchInsertPosts); err != nil {
				b.Fatal(err)
			}
		}
		// In chunks of sessions, so no one insert (and the aggregates it feeds) outlasts
		// the client's read timeout.
		for first := 0; first < benchSessions; first += 100 {
			from := benchStart.AddDate(0, 0, first).Add(-12 * time.Hour)
			q := p("from", from.Format("2006-01-02 15:04:05"), "to", from.AddDate(0, 0, 100).Format("2006-01-02 15:04:05"))
			if err := env.Conn.Exec(q, benchInsertEdges); err != nil {
				b.Fatal(err)
			}
		}
		if err := env.Conn.Exec(p("per", fmt.Sprint(per)), benchInsertMarks); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d posts in %d sessions in %v", per*benchSessions, benchSessions, time.Since(start).Round(time.Second))
	}

	cfg, err := community.Parse("bench", []byte(`
communities:
  - id: bench
    name: "#bench"
    hashtags: [bench]
    schedule:
      - {weekday: wednesday, start: "20:00", timezone: UTC, duration: 60m}
`))
	if err != nil {
		b.Fatal(err)
	}
	now := benchStart.AddDate(0, 0, benchSessions)
	a := api.New(readmodel.New(env.Conn), cfg, func() time.Time { return now }, nil)
	a.Timeout = 5 * time.Minute
	a.EnableAnalytics(env.Conn, optout.NewOptOuts(env.Conn, nil))
	mux := http.NewServeMux()
	a.Register(mux)

	iterations := 20
	if s := os.Getenv("CHATNIGHT_BENCH_ITERATIONS"); s != "" {
		iterations, _ = strconv.Atoi(s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	session := func() string { return fmt.Sprintf("bench-%04d", rng.IntN(benchSessions)) }
	period := func(days int) func() string {
		return func() string {
			from := benchStart.AddDate(0, 0, rng.IntN(benchSessions-days))
			return "from=" + from.Format(time.RFC3339) + "&to=" + from.AddDate(0, 0, days).Format(time.RFC3339)
		}
	}
	month, year := period(30), period(365)
	endpoints := []struct {
		name string
		path func() string
	}{
		{"communities", func() string { return "/api/communities" }},
		{"community_sessions", func() string { return "/api/communities/bench/sessions" }},
		{"community_stats_30d", func() string { return "/api/communities/bench/stats?" + month() }},
		{"community_stats_365d", func() string { return "/api/communities/bench/stats?" + year() }},
		{"session", func() string { return "/api/sessions/" + session() }},
		{"session_stats", func() string { return "/api/sessions/" + session() + "/stats" }},
		{"transcript_json", func() string { return "/api/sessions/" + session() + "/transcript" }},
		{"transcript_csv", func() string { return "/api/sessions/" + session() + "/transcript?format=csv" }},
		{"graph_json", func() string { return "/api/sessions/" + session() + "/graph" }},
		{"graph_gexf", func() string { return "/api/sessions/" + session() + "/graph?format=gexf" }},
		{"participants", func() string { return "/api/sessions/" + session() + "/participants" }},
		{"activity", func() string { return "/api/sessions/" + session() + "/activity" }},
		{"host", func() string { return "/api/sessions/" + session() + "/host" }},
		{"community_welcome_30d", func() string { return "/api/communities/bench/welcome?" + month() }},
	}
	b.ResetTimer()
	for range b.N {
		for _, ep := range endpoints {
			var took []time.Duration
			for range iterations {
				req := httptest.NewRequest(http.MethodGet, ep.path(), nil)
				rec := httptest.NewRecorder()
				start := time.Now()
				mux.ServeHTTP(rec, req)
				took = append(took, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", req.URL, rec.Code, rec.Body.String())
				}
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			p50, p95 := took[len(took)/2], took[min(len(took)-1, len(took)*95/100)]
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms/"+ep.name)
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms/"+ep.name)
			b.Logf("%-22s p50 %8.1f ms  p95 %8.1f ms  (%d requests, %d posts)", ep.name,
				float64(p50.Microseconds())/1000, float64(p95.Microseconds())/1000, iterations, per*benchSessions)
		}
	}
}

func chCtx(ctx context.Context, params map[string]string) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters(params)))
}
