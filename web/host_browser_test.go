package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatnight/chatnight/web/optout"
)

// texts lists the trimmed text of the elements matching a selector.
func texts(p *page, selector string) []string {
	return eval[[]string](p, fmt.Sprintf(`[...document.querySelectorAll(%q)].map((e) => e.textContent.trim())`, selector))
}

func attrs(p *page, selector, attr string) []string {
	return eval[[]string](p, fmt.Sprintf(`[...document.querySelectorAll(%q)].map((e) => e.getAttribute(%q))`, selector, attr))
}

func click(p *page, selector string) {
	p.t.Helper()
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, selector)))
}

func TestHostConsoleInBrowser(t *testing.T) {
	const id = "hostbr"
	start := time.Now().UTC().Add(-20 * time.Minute).Truncate(time.Second)
	old := newChat(id, id+"-old", start.Add(-7*24*time.Hour)).sessionRow("scheduled", time.Hour)
	old.post(id+":o1", "host", 0, "Q1 Last week?").
		post(id+":o2", "ana", time.Minute, "A1 yes", replyTo(id+":o1", "host")).
		post(id+":o3", "ben", 2*time.Minute, "A1 yes too", replyTo(id+":o1", "host")).
		post(id+":o4", "carol", 3*time.Minute, "hello")
	old.write(t)
	cur := newChat(id, id+"-cur", start).sessionRow("scheduled", time.Hour)
	const xPost = "x:990016000001"
	cur.post(id+":1", "host", 0, "Q1 What brought you here tonight? #"+id).
		post(id+":2", "ana", time.Minute, "A1 Same as every week", replyTo(id+":1", "host")).
		post(id+":3", "nina", 2*time.Minute, "A1 First time here! I'm a nurse", replyTo(id+":1", "host")).
		post(id+":4", "omar", 3*time.Minute, "Hello all, my first chat").
		post(id+":5", "ana", 4*time.Minute, "@nina welcome!", replyTo(id+":3", "nina")).
		post(id+":6", "host", 10*time.Minute, "Q2 What would you change?").
		post(id+":7", "ben", 11*time.Minute, "A2 Fewer meetings", replyTo(id+":6", "host")).
		post(id+":8", "ben", 12*time.Minute, "replying to an old thread", replyTo(id+":gone", "ghost")).
		post(xPost, "carol", 13*time.Minute, "posted on X")
	for i := range cur.batch.Posts {
		if cur.batch.Posts[i].ID == xPost {
			fromX()(&cur.batch.Posts[i])
		}
	}
	cur.write(t)

	ts := startServer(t, communities(t, id), nil)
	p := openBrowser(t)
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/host?community="+id))
	p.waitJS("the live connection", `document.querySelector('#conn').dataset.state === 'live'`, 20*time.Second)
	p.waitJS("the first-timers", `document.querySelector('[data-newcomer="sim:omar"]') && document.querySelector('[data-newcomer="sim:nina"]')`, 20*time.Second)
	p.do(time.Second, chromedp.Evaluate[chromedp.Void](`window.__notReloaded = true`))

	// Questions: pinned, newest on top, with answers and who answered.
	if got := attrs(p, "#questions [data-question-number]", "data-question-number"); fmt.Sprint(got) != "[2 1]" {
		t.Errorf("questions in order %v, want [2 1]", got)
	}
	if got := texts(p, `[data-question-number="1"] .hq-answers`); len(got) != 1 || got[0] != "2 answers · @ana, @nina" {
		t.Errorf("Q1 answers %q", got)
	}
	if got := texts(p, `[data-question-number="2"] .since`); len(got) != 1 || got[0] != "asked 10 min ago" {
		t.Errorf("Q2 asked %q, want 10 min ago", got)
	}

	// Waiting for a reply: first-timers first, then oldest first.
	want := []string{id + ":4", id + ":2", id + ":5", id + ":7", id + ":8", xPost}
	p.waitJS("the waiting list", fmt.Sprintf(`[...document.querySelectorAll('#waiting [data-waiting-post-id]')].map((e) => e.dataset.waitingPostId).join() === %q`, strings.Join(want, ",")), 10*time.Second)
	if got := texts(p, `[data-waiting-post-id="hostbr:4"] .new-badge`); fmt.Sprint(got) != "[First-timer]" {
		t.Errorf("omar's post badge %q", got)
	}

	// First-timers, welcomed or not.
	if got := texts(p, `[data-newcomer="sim:nina"] .welcome-state`); fmt.Sprint(got) != "[Welcomed by @ana]" {
		t.Errorf("nina %q", got)
	}
	if got := texts(p, `[data-newcomer="sim:omar"] .welcome-state`); fmt.Sprint(got) != "[No reply yet]" {
		t.Errorf("omar %q", got)
	}

	// Parents inline, in the waiting list and in the conversation; one is not stored.
	p.waitJS("the parent quotes", `document.querySelector('#feed [data-post-id="hostbr:5"] .parent-quote .quote-author') &&
		document.querySelector('[data-waiting-post-id="hostbr:8"] .parent-quote.missing')`, 10*time.Second)
	if got := texts(p, `#feed [data-post-id="hostbr:5"] .parent-quote`); fmt.Sprint(got) != "[@nina A1 First time here! I'm a nurse]" {
		t.Errorf("quote above ana's welcome %q", got)
	}
	if got := texts(p, `[data-waiting-post-id="hostbr:8"] .parent-quote`); fmt.Sprint(got) != "[Replying to a post that is not stored here.]" {
		t.Errorf("quote of a missing parent %q", got)
	}

	// Compose links carry the hashtag, A<n> when answering question n, and X's in_reply_to.
	compose := func(selector string) url.Values {
		t.Helper()
		hrefs := attrs(p, selector, "href")
		if len(hrefs) != 1 {
			t.Fatalf("%s: %d links", selector, len(hrefs))
		}
		u, err := url.Parse(hrefs[0])
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	if q := compose(`[data-waiting-post-id="hostbr:7"] a.compose-bluesky`); q.Get("text") != "A2 @ben #hostbr" {
		t.Errorf("Bluesky reply to ben's A2: %q", q.Get("text"))
	}
	if q := compose(`[data-question-number="1"] a.compose-x`); q.Get("text") != "A1 @host #hostbr" || q.Has("in_reply_to") {
		t.Errorf("X answer to Q1: %v", q)
	}
	if q := compose(`[data-waiting-post-id="` + xPost + `"] a.compose-x`); q.Get("in_reply_to") != "990016000001" || q.Get("text") != "@carol #hostbr" {
		t.Errorf("X reply to an X post: %v", q)
	}
	// Mastodon asks for the instance once and keeps it.
	click(p, `[data-waiting-post-id="hostbr:4"] a.compose-mastodon`)
	p.waitJS("the instance dialog", `document.querySelector('#instance-dialog').open`, 5*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('#instance-input').value = 'https://Mastodon.Social/'; document.querySelector('#instance-form').requestSubmit()`))
	p.waitJS("the Mastodon links", `document.querySelector('[data-waiting-post-id="hostbr:4"] a.compose-mastodon').href.startsWith('https://mastodon.social/share?')`, 5*time.Second)
	if q := compose(`[data-waiting-post-id="hostbr:4"] a.compose-mastodon`); q.Get("text") != "@omar #hostbr" {
		t.Errorf("Mastodon reply to omar: %v", q)
	}
	if got := eval[string](p, `localStorage.getItem('chatnight.mastodon-instance')`); got != "mastodon.social" {
		t.Errorf("kept instance %q", got)
	}
	p.screenshot("host-1280", false)

	// A reply to omar: his post leaves the waiting list, and he is welcomed by ben.
	next := newChat(id, id+"-cur", start)
	next.post(id+":10", "ben", 19*time.Minute, "@omar welcome, glad you're here", replyTo(id+":4", "omar"))
	next.commit(t, ts.bus)
	p.waitJS("omar answered", `!document.querySelector('[data-waiting-post-id="hostbr:4"]') &&
		document.querySelector('[data-newcomer="sim:omar"] .welcome-state').textContent === 'Welcomed by @ben'`, 10*time.Second)

	// Marked seen: the post leaves, and the mark is kept in the browser.
	click(p, `[data-waiting-post-id="hostbr:2"] .mark-seen`)
	p.waitJS("the post marked seen gone", `!document.querySelector('[data-waiting-post-id="hostbr:2"]')`, 5*time.Second)
	if got := eval[string](p, `localStorage.getItem('chatnight.seen.hostbr')`); got != `["hostbr:2"]` {
		t.Errorf("seen marks %s", got)
	}

	// A reply before its parent: it waits under "Other posts" saying so; the parent
	// arrives with an update placing the reply in its thread, without a reload.
	next.post(id+":20", "dan", 19*time.Minute, "late reply", replyTo(id+":21", "erin"))
	next.commit(t, ts.bus)
	p.waitJS("the orphan reply", `document.querySelector('#feed .other [data-post-id="hostbr:20"] .parent-quote.missing')`, 10*time.Second)
	next.post(id+":21", "erin", 18*time.Minute, "the late parent").
		post(id+":20", "dan", 19*time.Minute, "late reply", replyTo(id+":21", "erin"))
	next.batch.Posts[1].RootID, next.batch.Posts[1].Depth = id+":21", 1
	next.commitAs(t, ts.bus, id+":20")
	p.waitJS("the reply moved into its parent's thread", `document.querySelector('#feed [data-post-id="hostbr:21"] > .replies > [data-post-id="hostbr:20"]')`, 10*time.Second)
	if got := texts(p, `#feed [data-post-id="hostbr:20"] .parent-quote`); fmt.Sprint(got) != "[@erin the late parent]" {
		t.Errorf("the moved reply quotes %q", got)
	}
	if n := eval[int](p, `document.querySelectorAll('[data-post-id="hostbr:20"]').length`); n != 1 {
		t.Errorf("the moved reply is shown %d times", n)
	}
	if !eval[bool](p, `window.__notReloaded === true`) {
		t.Error("the page reloaded")
	}
	p.do(5*time.Second, emulate(390, 844, true, "light"))
	p.screenshot("host-390", false)
	p.do(5*time.Second, emulate(1280, 900, false, "dark"))
	p.screenshot("host-1280-dark", false)

	// A past session, for review.
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/host?community="+id+"&session="+id+"-old"))
	p.waitJS("the reviewed session", `document.querySelector('[data-question-number="1"]') && document.querySelector('#feed [data-post-id="hostbr:o4"]') &&
		!document.querySelector('#feed [data-post-id="hostbr:1"]')`, 10*time.Second)
	p.checkErrors()
}

// TestViewerAppliesUpdatesAndOptOutsLive: the viewer moves a reply into its late
// parent's thread on an update event; an account that opts out disappears from an open
// viewer page (posts and leaderboard row) and from an open host console; all without a
// reload.
func TestViewerAppliesUpdatesAndOptOutsLive(t *testing.T) {
	const id = "optlive"
	const who = "frankopt"
	start := time.Now().UTC().Add(-15 * time.Minute)
	cur := newChat(id, id+"-cur", start).sessionRow("scheduled", time.Hour)
	cur.post(id+":1", "host", 0, "Q1 Anyone?").
		post(id+":2", who, time.Minute, "A1 frank's answer", replyTo(id+":1", "host")).
		post(id+":3", "ana", 2*time.Minute, "A1 ana's answer", replyTo(id+":1", "host"))
	cur.write(t)
	ts := startServer(t, communities(t, id), nil)

	viewer := openBrowser(t)
	viewer.do(20*time.Second, chromedp.Navigate(ts.url+"/#community="+id))
	viewer.waitJS("the posts and the leaderboard", `document.querySelector('[data-post-id="optlive:2"]') &&
		[...document.querySelectorAll('#board tbody th')].some((e) => e.textContent.includes('@frankopt'))`, 20*time.Second)
	viewer.do(time.Second, chromedp.Evaluate[chromedp.Void](`window.__notReloaded = true`))

	// An update event moves a reply under its parent that arrived late.
	click(viewer, `input[name=view][value=qa]`)
	late := newChat(id, id+"-cur", start)
	late.post(id+":5", "ana", 5*time.Minute, "reply first", replyTo(id+":4", "ben"))
	late.commit(t, ts.bus)
	viewer.waitJS("the orphan reply", `document.querySelector('#feed .other [data-post-id="optlive:5"] .parent-quote.missing')`, 10*time.Second)
	late.post(id+":4", "ben", 4*time.Minute, "parent second").post(id+":5", "ana", 5*time.Minute, "reply first", replyTo(id+":4", "ben"))
	late.commitAs(t, ts.bus, id+":5")
	viewer.waitJS("the reply in its parent's thread", `document.querySelector('[data-post-id="optlive:4"] > .replies > [data-post-id="optlive:5"] .parent-quote .quote-author')`, 10*time.Second)

	console := openBrowser(t)
	console.do(20*time.Second, chromedp.Navigate(ts.url+"/host?community="+id))
	console.waitJS("frank waiting", `document.querySelector('[data-waiting-post-id="optlive:2"]')`, 20*time.Second)

	list := optout.NewOptOuts(ch, nil)
	if err := list.Add(context.Background(), who); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Remove(context.Background(), who) })
	viewer.waitJS("frank gone from the viewer", `!document.querySelector('[data-post-id="optlive:2"]') && document.querySelector('[data-post-id="optlive:3"]') &&
		![...document.querySelectorAll('#board tbody th')].some((e) => e.textContent.includes('frankopt'))`, 20*time.Second)
	console.waitJS("frank gone from the console", `!document.querySelector('[data-waiting-post-id="optlive:2"]') && document.querySelector('[data-waiting-post-id="optlive:3"]') &&
		!document.body.textContent.includes('frankopt')`, 20*time.Second)
	if !eval[bool](viewer, `window.__notReloaded === true`) {
		t.Error("the viewer reloaded")
	}
	viewer.checkErrors()
	console.checkErrors()
}
