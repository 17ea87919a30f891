package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/processor"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/steward"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/optout"
)

func fromSource(s string) postOpt { return func(p *storage.PostRow) { p.Source = s } }

// zoneAndLocale fixes the page's time zone and locale, so times show as expected.
func zoneAndLocale(tz, locale string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: tz}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: locale})
		return chromedp.Void{}, err
	}
}

// runSteward runs the processors' steward stage against the test's NATS and ClickHouse,
// and returns an Emitter the test publishes through as an ingestor does.
func runSteward(t *testing.T, ts *testServer, retention time.Duration) *ingest.Emitter {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	st := processor.NewSteward(ts.bus.JS, ch, log)
	st.Retention, st.PurgeEvery = retention, 20*time.Millisecond
	st.BatchWait = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("steward: %v", err)
		}
	})
	m, _ := ingest.NewMetrics(nil) // not registered: cannot fail
	return ingest.NewEmitter(ts.bus.JS, m, log)
}

// TestOutageInCompletenessAndBannerAndLiveDelete: a 2-minute Bluesky reconnect window,
// reported by an ingestor on NATS and written by the processor's steward stage, shows
// in the completeness API with exact windows and estimate, and in the viewer's banner;
// a post deleted at its source then leaves the live page and the API.
func TestOutageInCompletenessAndBannerAndLiveDelete(t *testing.T) {
	const id = "stewtest"
	now := time.Now().UTC()
	const gap = 30 * time.Minute
	start := sessions.CellStart(now.Add(-20*time.Minute), gap).Add(time.Minute)
	cur := newChat(id, "", start).offSchedule(gap)
	sid := sessions.CellID(id, sessions.CellStart(start, gap))
	bsky := fromSource("bluesky")
	cur.post(id+":1", "host", 0, "Q1 What did we miss? #stewtest", bsky).
		post(id+":2", "ana", time.Minute, "A1 I will delete this", replyTo(id+":1", "host"), bsky).
		post(id+":3", "ben", 4*time.Minute, "A1 still here", replyTo(id+":1", "host"), bsky).
		post(id+":4", "carol", 5*time.Minute, "A1 me too", bsky).
		post(id+":5", "dan", 6*time.Minute, "nice", bsky).
		post(id+":6", "ana", 7*time.Minute, "bye", bsky)
	cur.write(t)

	ts := startServer(t, communities(t, id), nil)
	em := runSteward(t, ts, -1) // no purging here: TestDeletedRetentionPurges
	ctx := context.Background()
	outFrom, outTo := start.Add(time.Minute), start.Add(3*time.Minute)
	em.Completeness(ctx, steward.Event{Source: "bluesky", From: outFrom, To: outTo, Kind: steward.KindReconnect, Detail: "jetstream: connection reset"})
	em.Completeness(ctx, steward.Event{Source: "bluesky", Community: "othercommunity", From: outFrom, To: outTo, Kind: steward.KindOutage})
	if err := em.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	type window struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
		Kind string    `json:"kind"`
	}
	var rep struct {
		Session string `json:"session"`
		Sources []struct {
			Source         string            `json:"source"`
			Posts          uint64            `json:"posts"`
			Covered        []window          `json:"covered"`
			Missing        []window          `json:"missing"`
			MissingSeconds float64           `json:"missing_seconds"`
			Counts         map[string]uint64 `json:"counts"`
			EstPosts       *float64          `json:"estimated_missing_posts"`
			EstShare       *float64          `json:"estimated_missing_share"`
		} `json:"sources"`
		Method string `json:"method"`
	}
	url := ts.url + "/api/sessions/" + sid + "/completeness"
	waitFor(t, 10*time.Second, "the outage in the completeness API", func() bool {
		getJSON(t, url, 200, &rep)
		return len(rep.Sources) == 1 && len(rep.Sources[0].Missing) == 1
	})
	s := rep.Sources[0]
	w := func(from, to time.Time, kind string) string {
		return fmt.Sprintf("%s-%s %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), kind)
	}
	got := fmt.Sprintf("%s posts=%d missing=%s covered=[%s %s] seconds=%v counts=%v est=%v share=%v", s.Source, s.Posts,
		w(s.Missing[0].From, s.Missing[0].To, s.Missing[0].Kind), w(s.Covered[0].From, s.Covered[0].To, ""), w(s.Covered[1].From, s.Covered[1].To, ""),
		s.MissingSeconds, s.Counts, *s.EstPosts, *s.EstShare)
	// 6 posts in the 300 covered seconds: 2.4 expected in the 120 missing ones, 2.4/8.4 of all.
	want := fmt.Sprintf("bluesky posts=6 missing=%s covered=[%s %s] seconds=120 counts=map[reconnect:1] est=2.4 share=0.2857",
		w(outFrom, outTo, "reconnect"), w(start, outFrom, ""), w(outTo, start.Add(7*time.Minute), ""))
	if got != want || rep.Session != sid || !strings.Contains(rep.Method, "posts per minute") {
		t.Errorf("completeness of %s\n got %s\nwant %s", rep.Session, got, want)
	}

	p := openBrowser(t)
	p.do(10*time.Second, zoneAndLocale("UTC", "en-GB"))
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/#community="+id))
	p.waitJS("the backfill", `document.querySelector('[data-post-id="stewtest:6"]')`, 20*time.Second)
	p.waitJS("the completeness banner", `!document.querySelector('#completeness').hidden`, 10*time.Second)
	banner := eval[[]string](p, `[...document.querySelectorAll('#completeness .gap')].map((e) => e.textContent)`)
	wantBanner := fmt.Sprintf("Bluesky: no data %s–%s (reconnect)", outFrom.Format("15:04"), outTo.Format("15:04"))
	if fmt.Sprint(banner) != fmt.Sprint([]string{wantBanner}) {
		t.Errorf("banner %q, want %q", banner, wantBanner)
	}
	if title := eval[string](p, `document.querySelector('#completeness .gap').title`); title != "jetstream: connection reset. About 28.6% of this source's posts of the session missed (estimated)." {
		t.Errorf("banner detail %q", title)
	}
	p.screenshot("banner-1280", false)
	p.do(5*time.Second, emulate(390, 844, true, "light"))
	p.screenshot("banner-390", false)
	p.do(5*time.Second, emulate(1280, 900, false, "light"))

	// ana deletes post 2 at its source: it leaves the live page and every API answer.
	p.waitJS("the live connection", `document.querySelector('#conn').dataset.state === 'live'`, 10*time.Second)
	if err := em.Delete(ctx, steward.Deletion{PostID: id + ":2", Source: "bluesky", Reason: "jetstream delete", At: now}); err != nil {
		t.Fatal(err)
	}
	if err := em.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p.waitJS("the deleted post gone from the page", `!document.querySelector('[data-post-id="stewtest:2"]') && document.querySelector('[data-post-id="stewtest:3"]')`, 10*time.Second)
	var tr struct {
		Posts []struct {
			ID string `json:"id"`
		} `json:"posts"`
	}
	getJSON(t, ts.url+"/api/sessions/"+sid+"/posts", 200, &tr)
	var ids []string
	for _, p := range tr.Posts {
		ids = append(ids, p.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint([]string{id + ":1", id + ":3", id + ":4", id + ":5", id + ":6"}) {
		t.Errorf("posts after the deletion: %v", ids)
	}

	// The host console drops a deleted post live too.
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/host?community="+id))
	p.waitJS("the console's live connection", `document.querySelector('#conn').dataset.state === 'live'`, 20*time.Second)
	p.waitJS("the console's backfill", `document.querySelector('#feed [data-post-id="stewtest:4"]')`, 20*time.Second)
	if err := em.Delete(ctx, steward.Deletion{PostID: id + ":4", Source: "bluesky", Reason: "jetstream delete", At: now}); err != nil {
		t.Fatal(err)
	}
	if err := em.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p.waitJS("the deleted post gone from the console", `!document.querySelector('#feed [data-post-id="stewtest:4"]') && document.querySelector('#feed [data-post-id="stewtest:5"]')`, 10*time.Second)
	p.checkErrors()
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeletedRetentionPurges: with deleted_retention passed, the processor's steward
// stage erases a deleted post's rows from disk on its own and marks the deletion purged.
func TestDeletedRetentionPurges(t *testing.T) {
	const id = "retaintest"
	cur := newChat(id, id+"-s1", time.Now().Add(-time.Hour)).sessionRow("scheduled", time.Hour)
	cur.post(id+":1", "ana", 0, "soon gone").post(id+":2", "ben", time.Minute, "stays")
	cur.write(t)
	ts := startServer(t, communities(t, id), nil)
	em := runSteward(t, ts, time.Millisecond)
	ctx := context.Background()
	if err := em.Delete(ctx, steward.Deletion{PostID: id + ":1", Source: "sim", Reason: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := em.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	unmasked := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"apply_deleted_mask": 0}))
	waitFor(t, 20*time.Second, "the deleted post purged", func() bool {
		var purged, onDisk, kept uint64
		// A purged deletion is on record by its post's tombstone, not its id.
		if err := ch.QueryRow(ctx, "SELECT countIf(purged_at > toDateTime64(0, 3, 'UTC')) FROM chatnight.deletions FINAL WHERE post_id = ?", storage.Tombstone(id+":1")).Scan(&purged); err != nil {
			t.Fatal(err)
		}
		if err := ch.QueryRow(unmasked, "SELECT countIf(id = ?), countIf(id = ?) FROM chatnight.posts WHERE community = ?", id+":1", id+":2", id).Scan(&onDisk, &kept); err != nil {
			t.Fatal(err)
		}
		return purged == 1 && onDisk == 0 && kept == 1
	})
}

// TestConsentSignalsBecomeOptOuts: the opt-out reader treats noindex accounts as opted
// out everywhere and, in communities with consent: strict, Mastodon accounts that are
// not indexable too; indexable ones and other networks stay visible.
func TestConsentSignalsBecomeOptOuts(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	rows := []storage.ConsentRow{
		{AccountID: "mastodon:quiet@consent.example", Handle: "quiet@consent.example", NoIndex: 1, SeenAt: now, Version: 1},
		{AccountID: "mastodon:shy@consent.example", Handle: "shy@consent.example", NoIndex: 0, Indexable: 0, SeenAt: now, Version: 1},
		{AccountID: "mastodon:open@consent.example", Handle: "open@consent.example", NoIndex: 0, Indexable: 1, SeenAt: now, Version: 1},
		{AccountID: "bluesky:did:plc:consentlabel", Handle: "label.consent.example", NoIndex: 1, SeenAt: now, Version: 1},
		{AccountID: "bluesky:did:plc:consentplain", Handle: "plain.consent.example", SeenAt: now, Version: 1},
	}
	if err := storage.WriteConsent(ctx, ch, rows); err != nil {
		t.Fatal(err)
	}
	list := optout.NewOptOuts(ch, nil)
	list.Strict = []string{"strictconsent"}
	r, err := list.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range []string{"openconsent", "strictconsent"} {
		for _, row := range rows {
			if r.For(c).Hidden(row.AccountID, "") {
				got = append(got, c+" "+row.AccountID)
			}
		}
	}
	want := []string{
		"openconsent mastodon:quiet@consent.example", "openconsent bluesky:did:plc:consentlabel",
		"strictconsent mastodon:quiet@consent.example", "strictconsent mastodon:shy@consent.example", "strictconsent bluesky:did:plc:consentlabel",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hidden\n got %q\nwant %q", got, want)
	}
	// Mentions by handle are rewritten to the same pseudonym as the account.
	quiet := r.Pseudonym("mastodon:quiet@consent.example")
	if text := r.For("openconsent").Text("thanks @quiet@consent.example!"); text != "thanks @"+quiet+"!" {
		t.Errorf("mention rewritten as %q", text)
	}
	if c := list.Counts(); c.NoIndex < 2 || c.NotIndexable < 1 {
		t.Errorf("counts %+v", c)
	}
}
