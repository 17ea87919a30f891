package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/web/redact"
)

const (
	stewAna  = "did:plc:stewana00000000000000000"
	stewBo   = "did:plc:stewbo000000000000000000"
	stewCy   = "did:plc:stewcy000000000000000000"
	stewDee  = "did:plc:stewdee0000000000000000"
	stewT0   = 1713313805000000 // 2024-04-17T00:30:05Z: Tuesday 20:30 in New York, the slot
	stewText = "Q1 what matters most zorbleflux? #hcldr"
)

func bskyPost(did, rkey string, us int64, text, extra string) string {
	created := time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000Z")
	return fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"r%s","operation":"create","collection":"app.bsky.feed.post","rkey":%q,"record":{"$type":"app.bsky.feed.post","createdAt":%q,"langs":["en"],"text":%q%s},"cid":"bafy%s"}}`,
		did, us, rkey, rkey, created, text, extra, rkey)
}

func bskyDelete(did, collection, rkey string, us int64) string {
	return fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"d%s","operation":"delete","collection":%q,"rkey":%q}}`, did, us, rkey, collection, rkey)
}

func atURI(did, collection, rkey string) string { return "at://" + did + "/" + collection + "/" + rkey }

// masto is a Mastodon status of acct on mastodon.example.
func masto(id, acct string, at time.Time, html string, noindex bool, mentions ...string) map[string]any {
	var ms []map[string]any
	for i, m := range mentions {
		ms = append(ms, map[string]any{"id": fmt.Sprint(900 + i), "username": strings.Split(m, "@")[0], "acct": m,
			"url": "https://mastodon.example/@" + strings.Split(m, "@")[0]})
	}
	return map[string]any{
		"id": id, "created_at": at.Format(time.RFC3339), "visibility": "public", "language": "en",
		"uri": "https://mastodon.example/users/" + acct + "/statuses/" + id, "url": "https://mastodon.example/@" + acct + "/" + id,
		"content": html, "account": map[string]any{"id": "7" + id, "username": acct, "acct": acct, "url": "https://mastodon.example/@" + acct,
			"display_name": strings.ToUpper(acct), "followers_count": 10, "noindex": noindex, "indexable": !noindex},
		"mentions": ms, "tags": []map[string]string{{"name": "hcldr", "url": "https://mastodon.example/tags/hcldr"}},
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func countRows(t *testing.T, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestStewardshipEndToEnd runs `chatnight run`, imports a Jetstream archive, then a
// second archive with the deletes of one stored post and one repost, and a Mastodon
// archive with a noindex account. The deleted posts are gone from every table and every
// read path; the noindex account appears only as its pseudonym; pseudonymized exports
// agree with each other and with `report --pseudonymize`; `purge` leaves no row of the
// deleted posts on disk.
func TestStewardshipEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	config := filepath.Join(dir, "communities.yaml")
	if err := os.WriteFile(config, []byte(`communities:
  - id: stew
    hashtags: [hcldr]
    schedule: [{weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	n := newNode(t, filepath.Join(dir, "data"))
	n.start("run", "--batch-wait", "50ms", "--config", config, "--clickhouse-admin") // purge goes through its endpoint
	conn := n.ch(ctx)
	const sess = "stew-20240417T003000Z"
	api := "http://" + n.httpAddr + "/api/sessions/" + sess

	gone := "bluesky:" + atURI(stewAna, "app.bsky.feed.post", "3stewa")
	goneRepost := "bluesky:" + atURI(stewDee, "app.bsky.feed.repost", "3stewr")
	reply := `,"reply":{"root":{"uri":"` + atURI(stewAna, "app.bsky.feed.post", "3stewa") + `","cid":"bafy3stewa"},"parent":{"uri":"` + atURI(stewAna, "app.bsky.feed.post", "3stewa") + `","cid":"bafy3stewa"}}`
	posts := strings.Join([]string{
		bskyPost(stewAna, "3stewa", stewT0, stewText, `,"facets":[{"index":{"byteStart":0,"byteEnd":2},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"`+stewCy+`"}]}]`),
		bskyPost(stewBo, "3stewb", stewT0+60_000_000, "A1 listening first #hcldr", reply),
		bskyPost(stewCy, "3stewc", stewT0+120_000_000, "A1 teams #hcldr", ""),
		fmt.Sprintf(`{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"r3stewr","operation":"create","collection":"app.bsky.feed.repost","rkey":"3stewr","record":{"$type":"app.bsky.feed.repost","createdAt":"2024-04-17T00:33:05.000Z","subject":{"uri":%q,"cid":"bafy3stewa"}},"cid":"bafy3stewr"}}`,
			stewDee, stewT0+180_000_000, atURI(stewAna, "app.bsky.feed.post", "3stewa")),
	}, "\n") + "\n"
	file1 := filepath.Join(dir, "night.jsonl")
	if err := os.WriteFile(file1, []byte(posts), 0o644); err != nil {
		t.Fatal(err)
	}
	imp := func(format, file string) string {
		return chatnight(t, "import", "--config", config, "--community", "stew", "--format", format, "--nats-url", n.natsURL(), file)
	}
	imp("jetstream", file1)
	waitFor(t, 30*time.Second, "the night stored", func() error {
		if c := countRows(t, conn, "SELECT count() FROM chatnight.posts FINAL WHERE community = 'stew'"); c != 4 {
			return fmt.Errorf("%d posts", c)
		}
		return nil
	})
	waitFor(t, 10*time.Second, "the Q1 mark of the post to delete", func() error {
		if c := countRows(t, conn, "SELECT count() FROM chatnight.qa_marks FINAL WHERE post_id = ?", gone); c != 1 {
			return fmt.Errorf("%d marks", c)
		}
		return nil
	})

	// The second archive deletes the stored post and the repost of it.
	file2 := filepath.Join(dir, "deletes.jsonl")
	dels := bskyDelete(stewAna, "app.bsky.feed.post", "3stewa", stewT0+600_000_000) + "\n" +
		bskyDelete(stewDee, "app.bsky.feed.repost", "3stewr", stewT0+610_000_000) + "\n"
	if err := os.WriteFile(file2, []byte(dels), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := imp("jetstream", file2); !strings.Contains(out, "2 deletions") {
		t.Fatalf("import of the deletes said: %s", out)
	}
	// The steward removes the rows, then rebuilds the aggregates: wait for the last
	// (the log line "deletions recorded" comes after both).
	waitFor(t, 30*time.Second, "the deleted posts removed", func() error {
		if c := countRows(t, conn, "SELECT count() FROM chatnight.posts FINAL WHERE community = 'stew'"); c != 2 {
			return fmt.Errorf("%d posts", c)
		}
		if !strings.Contains(n.out.String(), "deletions recorded") {
			return errors.New("the steward has not logged the deletions yet")
		}
		return nil
	})
	// Gone from every table and view...
	for _, q := range []string{
		"SELECT count() FROM chatnight.posts WHERE id IN (?, ?)",
		"SELECT count() FROM chatnight.qa_marks WHERE post_id IN (?, ?)",
		"SELECT count() FROM chatnight.qa WHERE post_id IN (?, ?)",
		"SELECT count() FROM chatnight.edge_events WHERE post_id IN (?, ?)",
		"SELECT count() FROM chatnight.post_ids WHERE id IN (?, ?)",
		"SELECT count() FROM chatnight.post_replies WHERE id IN (?, ?) OR reply_to_id IN (?, ?)",
		"SELECT count() FROM chatnight.participants WHERE community = 'stew' AND author_id IN ('bluesky:" + stewAna + "', 'bluesky:" + stewDee + "') AND ? != ?",
	} {
		args := []any{gone, goneRepost}
		if strings.Count(q, "?") == 4 {
			args = append(args, gone, goneRepost)
		}
		if c := countRows(t, conn, q, args...); c != 0 {
			t.Errorf("%s: %d rows after the deletion", q, c)
		}
	}
	if c := countRows(t, conn, "SELECT sum(posts) FROM chatnight.minute_activity WHERE community = 'stew'"); c != 2 {
		t.Errorf("minute_activity counts %d posts, want 2", c)
	}
	// ... and from every read path.
	for _, path := range []string{"", "/posts", "/participants", "/graph", "/activity", "/stats", "/transcript", "/transcript?format=csv",
		"/transcript?format=md", "/transcript?format=html", "/graph?format=gexf", "/graph?format=graphml"} {
		// Replies to the deleted post keep pointing at it (its id, its author): that is
		// their own data. The post itself, and the repost with its author, are gone.
		body := httpGet(t, api+path)
		for _, s := range []string{"zorbleflux", `"id":"` + gone + `"`, "3stewr", stewDee} {
			if strings.Contains(body, s) {
				t.Errorf("GET %s still shows %s", path, s)
			}
		}
	}
	if out := chatnight(t, "report", "--config", config, "--community", "stew", "--session", sess, "--format", "md", "--clickhouse-dsn", n.chDSN()); strings.Contains(out, "zorbleflux") || strings.Contains(out, stewDee) {
		t.Errorf("report shows the deleted post:\n%s", out)
	}

	// A Mastodon account with noindex: true appears only as its pseudonym.
	at := time.Unix(stewT0/1_000_000, 0).UTC()
	statuses, _ := json.Marshal([]any{
		masto("501", "nina", at.Add(5*time.Minute), `<p>A1 private thoughts <a href="https://mastodon.example/tags/hcldr">#hcldr</a></p>`, true),
		masto("502", "omar", at.Add(6*time.Minute), `<p>agreed <span class="h-card"><a href="https://mastodon.example/@nina" class="u-url mention">@<span>nina</span></a></span> <a href="https://mastodon.example/tags/hcldr">#hcldr</a></p>`, false, "nina"),
	})
	file3 := filepath.Join(dir, "mastodon.json")
	if err := os.WriteFile(file3, statuses, 0o644); err != nil {
		t.Fatal(err)
	}
	imp("mastodon", file3)
	waitFor(t, 30*time.Second, "the statuses and nina's consent stored", func() error {
		if c := countRows(t, conn, "SELECT count() FROM chatnight.account_consent FINAL WHERE account_id = 'mastodon:nina@mastodon.example' AND noindex = 1"); c != 1 {
			return fmt.Errorf("consent rows %d", c)
		}
		if c := countRows(t, conn, "SELECT count() FROM chatnight.posts FINAL WHERE community = 'stew'"); c != 4 {
			return fmt.Errorf("%d posts", c)
		}
		return nil
	})
	var salt string
	if err := conn.QueryRow(ctx, "SELECT argMin(salt, created_at) FROM chatnight.pseudonym_salt").Scan(&salt); err != nil {
		t.Fatal(err)
	}
	key := redact.NewRedactor(salt, nil, nil)
	nina := key.Pseudonym("mastodon:nina@mastodon.example")
	waitFor(t, 10*time.Second, "the opt-out list reloaded", func() error {
		if body := httpGet(t, api+"/posts"); strings.Contains(body, "nina") {
			return fmt.Errorf("nina still shown")
		}
		return nil
	})
	for _, path := range []string{"/posts", "/participants", "/graph", "/stats", "/transcript?format=md", "/graph?format=gexf"} {
		body := httpGet(t, api+path)
		if strings.Contains(strings.ToLower(body), "nina") || strings.Contains(body, "private thoughts") {
			t.Errorf("GET %s shows the noindex account", path)
		}
		if path != "/stats" && !strings.Contains(body, nina) {
			t.Errorf("GET %s lacks nina's pseudonym %s", path, nina)
		}
	}

	// Pseudonymized exports: every account under the install key's pseudonym, the same in
	// every export and in the report.
	ana := key.Pseudonym("bluesky:" + stewAna)
	bo, cy, omar := key.Pseudonym("bluesky:"+stewBo), key.Pseudonym("bluesky:"+stewCy), key.Pseudonym("mastodon:omar@mastodon.example")
	var tr struct {
		Posts []struct {
			AuthorID string `json:"author_id"`
			Handle   string `json:"author_handle"`
			Text     string `json:"text"`
			URL      string `json:"url"`
		} `json:"posts"`
		Manifest struct {
			Privacy struct {
				Pseudonymised   bool `json:"pseudonymised"`
				ConsentOptedOut int  `json:"consent_opted_out_accounts"`
			} `json:"privacy"`
			Deletions struct{ Removed, Purged uint64 } `json:"deletions"`
			Sources   []string                         `json:"sources"`
		} `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, api+"/transcript?format=json&pseudonymize=1")), &tr); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range tr.Posts {
		got = append(got, p.AuthorID+" "+p.Handle+" "+p.Text+" url="+p.URL)
	}
	want := []string{bo + " " + bo + " A1 listening first #hcldr url=", cy + " " + cy + " A1 teams #hcldr url=", omar + " " + omar + " agreed @" + nina + " #hcldr url="}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pseudonymized transcript\n got %q\nwant %q", got, want)
	}
	m := tr.Manifest
	if !m.Privacy.Pseudonymised || m.Privacy.ConsentOptedOut != 1 || m.Deletions.Removed != 2 || m.Deletions.Purged != 0 || fmt.Sprint(m.Sources) != "[import]" {
		t.Errorf("manifest %+v", m)
	}
	pseudonyms := regexp.MustCompile(redact.PseudonymPrefix + `[0-9a-f]{10}`)
	set := func(s string) string {
		seen := map[string]bool{}
		for _, p := range pseudonyms.FindAllString(s, -1) {
			seen[p] = true
		}
		var out []string
		for p := range seen {
			out = append(out, p)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	sorted := func(ss ...string) string {
		sort.Strings(ss)
		return strings.Join(ss, " ")
	}
	// The transcript names its authors and mentions; the graph also ana, whom bo
	// replied to (her post is deleted, bo's reply is not).
	wantSet := sorted(ana, bo, cy, omar, nina)
	for path, want := range map[string]string{
		"/transcript?format=csv&pseudonymize=1": sorted(bo, cy, omar, nina),
		"/graph?format=gexf&pseudonymize=1":     wantSet,
		"/graph?format=graphml&pseudonymize=1":  wantSet,
	} {
		body := httpGet(t, api+path)
		if s := set(body); s != want {
			t.Errorf("GET %s pseudonyms %s, want %s", path, s, want)
		}
		for _, s := range []string{"omar", stewBo, stewCy, stewAna, "nina"} {
			if strings.Contains(body, s) {
				t.Errorf("GET %s names %s", path, s)
			}
		}
	}
	rep := chatnight(t, "report", "--config", config, "--community", "stew", "--session", sess, "--pseudonymize", "--clickhouse-dsn", n.chDSN())
	if s := set(rep); !strings.Contains(wantSet, s) || !strings.Contains(s, bo) || strings.Contains(rep, "omar") {
		t.Errorf("report --pseudonymize pseudonyms %s, want among %s:\n%s", s, wantSet, rep)
	}
	if !strings.Contains(rep, "Deletions honoured: 2 removed, 0 purged from disk.") {
		t.Errorf("report header lacks the manifest:\n%s", rep)
	}

	// purge erases the deleted posts' rows from disk: no table holds the post's text or
	// its id, even reading masked rows (deletions name them by tombstone now).
	if out := chatnight(t, "purge", "--clickhouse-dsn", n.chDSN()); !strings.Contains(out, "purge: 2 deleted posts erased") {
		t.Errorf("purge said: %s", out)
	}
	var tables []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = 'chatnight' AND engine LIKE '%MergeTree'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("tables: %v", tables)
	}
	unmasked := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"apply_deleted_mask": 0}))
	for _, table := range tables {
		for _, needle := range []string{"zorbleflux", "3stewr"} {
			var c uint64
			q := "SELECT count() FROM chatnight.{t:Identifier} WHERE position(formatRow('TSV', *), {needle:String}) > 0"
			qctx := clickhouse.Context(unmasked, clickhouse.WithParameters(clickhouse.Parameters{"t": table, "needle": needle}))
			if err := conn.QueryRow(qctx, q).Scan(&c); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if c != 0 {
				t.Errorf("after purge %s has %d rows holding %q", table, c, needle)
			}
		}
	}
	if c := countRows(t, conn, "SELECT count() FROM chatnight.posts WHERE id = ? SETTINGS apply_deleted_mask = 0", gone); c != 0 {
		t.Errorf("posts still holds the deleted post on disk: %d", c)
	}
	if c := countRows(t, conn, "SELECT countIf(purged_at > toDateTime64(0, 3, 'UTC')) FROM chatnight.deletions FINAL"); c != 2 {
		t.Errorf("%d deletions marked purged, want 2", c)
	}
}
