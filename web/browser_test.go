package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/chatnight/chatnight/pipeline/sessions"
)

// chromiumPath is where the project's setup (`make setup`, apt-get) installs Chromium.
const chromiumPath = "/usr/bin/chromium"

// page is a headless Chromium tab with the page's JavaScript errors collected.
type page struct {
	t   testing.TB
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

func openBrowser(t *testing.T) *page {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("browser tests need Chromium at %s: %v; run `make setup` (it installs chromium with apt-get)", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	p := &page{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(p.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	p.ctx = ctx
	// Start the browser with a context without deadline: it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.screenshot("failure", true)
		}
	})
	return p
}

func (p *page) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error()
	case *cdplog.EventEntryAdded:
		if e.Entry != nil && e.Entry.Level == cdplog.EntryLevelError {
			msg = fmt.Sprintf("console %s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			b, _ := json.Marshal(e.Args)
			msg = "console.error: " + string(b)
		}
	}
	if msg != "" {
		p.mu.Lock()
		p.errors = append(p.errors, msg)
		p.mu.Unlock()
	}
}

// checkErrors fails the test on JavaScript errors, CSP violations included.
func (p *page) checkErrors() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errors {
		if strings.Contains(e, "favicon") {
			continue
		}
		p.t.Errorf("page error: %s", e)
	}
}

func (p *page) do(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

func eval[T any](p *page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true.
func (p *page) waitJS(what, js string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := eval[bool](p, "!!("+js+")")
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %v waiting for %s (%s)", timeout, what, js)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot writes a PNG. Failure shots go to $TMPDIR/chatnight-screenshots; others
// only when CHATNIGHT_SCREENSHOTS names a directory.
func (p *page) screenshot(name string, failure bool) {
	dir := os.Getenv("CHATNIGHT_SCREENSHOTS")
	if failure {
		dir = filepath.Join(os.TempDir(), "chatnight-screenshots")
	}
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Logf("screenshot: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.png", strings.ReplaceAll(p.t.Name(), "/", "_"), name, time.Now().Unix()))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Logf("screenshot: %v", err)
		return
	}
	p.t.Logf("screenshot %s: %s", name, path)
}

func emulate(width, height int64, mobile bool, scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile,
		}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return chromedp.Void{}, err
	}
}

// postIDs lists the data-post-id of every element on the page, sorted.
func postIDs(p *page) []string {
	ids := eval[[]string](p, `[...document.querySelectorAll('[data-post-id]')].map((e) => e.dataset.postId)`)
	sort.Strings(ids)
	return ids
}

func TestPageInBrowser(t *testing.T) {
	const id = "brtest"
	now := time.Now().UTC()
	// The current chat is off-schedule: a detected session whose backfilled posts are
	// in one 30-minute cell and whose live posts (from 10 minutes on) are in the next.
	const gap = 30 * time.Minute
	boundary := sessions.CellStart(now.Add(-12*time.Minute), gap)
	start := boundary.Add(-4 * time.Minute)
	old := newChat(id, id+"-s0", start.Add(-7*24*time.Hour)).sessionRow("scheduled", time.Hour)
	old.post(id+":o1", "host", 0, "Q1 Last week's question?").
		post(id+":o2", "ana", time.Minute, "A1 Last week's answer", replyTo(id+":o1", "host")).
		post(id+":o3", "ben", 3*time.Minute, "A1 Another one", replyTo(id+":o1", "host"))
	old.write(t)
	cur := newChat(id, "", start).offSchedule(gap)
	sid := sessions.CellID(id, sessions.CellStart(start, gap)) // the detected session's id
	cur.post(id+":1", "host", 0, "Q1 How do you lead change in a hospital? #brtest").
		post(id+":2", "ana", time.Minute, "A1 By listening first: https://example.org/listen, thanks @ben #brtest",
			replyTo(id+":1", "host"), mentions("ben")).
		post(id+":3", "ben", 2*time.Minute, `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> & <b>bold</b>`).
		post(id+":4", "carol", 3*time.Minute, "@ana agreed, listening is underrated", replyTo(id+":2", "ana"), mentions("ana"))
	cur.write(t)
	want := []string{id + ":1", id + ":2", id + ":3", id + ":4"}

	ts := startServer(t, communities(t, id), nil)
	p := openBrowser(t)
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/#community="+id))
	p.waitJS("the backfill", `document.querySelector('[data-post-id="brtest:4"]')`, 20*time.Second)
	p.waitJS("the live connection", `document.querySelector('#conn').dataset.state === 'live'`, 10*time.Second)

	// Live posts arrive, written to ClickHouse first and then announced, as a processor does.
	next := newChat(id, "", start).offSchedule(gap)
	next.post(id+":5", "dan", 10*time.Minute, "A1 A live answer from dan", replyTo(id+":1", "host"))
	next.commit(t, ts.bus)
	want = append(want, id+":5")
	p.waitJS("the live post", `document.querySelector('[data-post-id="brtest:5"]')`, 10*time.Second)

	{ // Post text is escaped: markup shows as text, links are built safely.
		text := eval[string](p, `document.querySelector('[data-post-id="brtest:3"] .text').textContent`)
		if !strings.Contains(text, `<img src=x onerror="window.__xss=1">`) || !strings.Contains(text, "<b>bold</b>") {
			t.Errorf("post text rendered as %q, want the markup as text", text)
		}
		if n := eval[int](p, `document.querySelectorAll('[data-post-id="brtest:3"] img, [data-post-id="brtest:3"] script, [data-post-id="brtest:3"] b').length`); n != 0 {
			t.Errorf("%d elements made from post text", n)
		}
		if xss := eval[bool](p, `window.__xss !== undefined`); xss {
			t.Error("script from post text ran")
		}
		links := eval[[]string](p, `[...document.querySelectorAll('[data-post-id="brtest:2"] .text > *')].map((a) => a.className + ' ' + (a.getAttribute('href') || a.textContent))`)
		if len(links) != 3 || !strings.HasPrefix(links[0], "url https://example.org/listen") || links[1] != "mention @ben" || links[2] != "tag #brtest" {
			t.Errorf("links of post 2: %q", links)
		}
	}

	// Every reply quotes its parent inline.
	p.waitJS("the parent quoted", `document.querySelector('[data-post-id="brtest:4"] .parent-quote .quote-author')`, 10*time.Second)
	if q := eval[string](p, `document.querySelector('[data-post-id="brtest:4"] .parent-quote').textContent`); !strings.HasPrefix(q, "@ana A1 By listening first") {
		t.Errorf("carol's reply quotes %q, want ana's answer", q)
	}

	// Q/A mode: answers under their question, replies in a thread under the answer.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=view][value=qa]').click()`))
	p.waitJS("answers grouped under Q1",
		`document.querySelector('section.question[data-question="1"] .q-head [data-post-id="brtest:1"]') &&
		 document.querySelector('section.question[data-question="1"] .answers [data-post-id="brtest:2"]') &&
		 document.querySelector('section.question[data-question="1"] .answers [data-post-id="brtest:5"]') &&
		 document.querySelector('[data-post-id="brtest:2"] > .replies > [data-post-id="brtest:4"]')`, 10*time.Second)
	next.post(id+":6", "erin", 11*time.Minute, "A1 Live in Q&A mode", replyTo(id+":1", "host"))
	next.commit(t, ts.bus)
	want = append(want, id+":6")
	p.waitJS("a live answer under Q1", `document.querySelector('section.question[data-question="1"] .answers [data-post-id="brtest:6"]')`, 10*time.Second)
	if got := postIDs(p); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Q/A view shows %v, want each of %v once", got, want)
	}
	// Backfill and live posts, in two cells, are one session.
	if groups := eval[[]string](p, `[...document.querySelectorAll('#feed section.group')].map((g) => g.dataset.sessionId)`); fmt.Sprint(groups) != fmt.Sprint([]string{sid}) {
		t.Errorf("the feed groups posts in sessions %q, want one: %s", groups, sid)
	}
	// A thread collapses.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-post-id="brtest:2"] .thread-toggle').click()`))
	p.waitJS("the thread collapsed", `document.querySelector('[data-post-id="brtest:2"] > .replies').hidden`, 5*time.Second)
	p.screenshot("qa-light", false)

	// The server drops every socket; the page reconnects, resumes from its sequence and
	// shows posts published meanwhile, each once.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=view][value=stream]').click()`))
	seqBefore := eval[int](p, `window.chatnight.lastSeq()`)
	ts.srv.DisconnectClients()
	p.waitJS("the page to notice", `document.querySelector('#conn').dataset.state !== 'live'`, 10*time.Second)
	next.post(id+":7", "ana", 12*time.Minute, "posted while the page was away")
	next.commit(t, ts.bus)
	next.post(id+":8", "ben", 13*time.Minute, "and another", replyTo(id+":7", "ana"))
	next.commit(t, ts.bus)
	want = append(want, id+":7", id+":8")
	p.waitJS("the posts published while away", `document.querySelector('[data-post-id="brtest:8"]') && document.querySelector('[data-post-id="brtest:7"]')`, 20*time.Second)
	if state := eval[string](p, `document.querySelector('#conn .conn-text').textContent`); !strings.Contains(state, "resumed") {
		t.Errorf("connection state %q, want a resumed connection", state)
	}
	if seq := eval[int](p, `window.chatnight.lastSeq()`); seq <= seqBefore {
		t.Errorf("last sequence %d, want past %d", seq, seqBefore)
	}
	// Once more with a live post after the reconnection.
	next.post(id+":9", "host", 14*time.Minute, "Q2 What comes next?")
	next.commit(t, ts.bus)
	want = append(want, id+":9")
	p.waitJS("a live post after reconnecting", `document.querySelector('[data-post-id="brtest:9"]')`, 10*time.Second)
	if got := postIDs(p); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reconnecting the page shows %v, want each of %v once", got, want)
	}

	// Newest on top, then a text filter.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`{const o = document.querySelector('#order'); o.value = 'top'; o.dispatchEvent(new Event('change'))}`))
	p.waitJS("the newest post first", `document.querySelector('#feed [data-post-id]').dataset.postId === 'brtest:9'`, 5*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`{const f = document.querySelector('#filter-text'); f.value = 'listening'; f.dispatchEvent(new Event('input'))}`))
	p.waitJS("the text filter", `[...document.querySelectorAll('#feed [data-post-id]')].filter((e) => !e.hidden).map((e) => e.dataset.postId).join() === 'brtest:4,brtest:2'`, 5*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`{const f = document.querySelector('#filter-text'); f.value = ''; f.dispatchEvent(new Event('input'));
		const o = document.querySelector('#order'); o.value = 'bottom'; o.dispatchEvent(new Event('change'))}`))
	p.waitJS("the filter cleared", `![...document.querySelectorAll('#feed [data-post-id]')].some((e) => e.hidden)`, 5*time.Second)

	// Reading older posts pauses auto-scroll; new posts are offered instead.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`{const f = document.querySelector('#feed'); f.style.height = '240px'; f.scrollTop = 0; f.dispatchEvent(new Event('scroll'))}`))
	next.post(id+":10", "dan", 15*time.Minute, "a post while reading back")
	next.commit(t, ts.bus)
	p.waitJS("the new-posts button", `!document.querySelector('#unseen').hidden && document.querySelector('#unseen').textContent === '1 new post' && document.querySelector('#feed').scrollTop === 0`, 10*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('#unseen').click()`))
	p.waitJS("the jump to the newest", `((f) => document.querySelector('#unseen').hidden && f.scrollHeight - f.scrollTop - f.clientHeight < 80)(document.querySelector('#feed'))`, 5*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('#feed').style.height = ''`))

	// Deep link to a post.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = 'community=brtest&post=' + encodeURIComponent('brtest:2')`))
	p.waitJS("the linked post highlighted", `document.querySelector('[data-post-id="brtest:2"]').classList.contains('target')`, 5*time.Second)

	// Leaderboard and panels follow the posts.
	p.waitJS("the leaderboard", `document.querySelectorAll('#board tbody tr').length === 6 &&
		document.querySelector('#board tbody tr td:nth-child(3)').textContent === '2'`, 5*time.Second)
	p.screenshot("stream-light", false)
	p.do(5*time.Second, emulate(1280, 900, false, "dark"))
	p.screenshot("stream-dark", false)
	p.do(5*time.Second, emulate(390, 844, true, "light"))
	p.screenshot("phone-light", false)
	p.do(5*time.Second, emulate(390, 844, true, "dark"))
	p.screenshot("phone-dark", false)
	p.do(5*time.Second, emulate(1280, 900, false, "light"))

	// A past session: its transcript, then a replay at 60x that ends with every post.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = 'community=brtest&session=brtest-s0'`))
	p.waitJS("the past transcript", `document.querySelector('[data-post-id="brtest:o3"]') && !document.querySelector('[data-post-id="brtest:1"]')`, 10*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('#replay-speed').value = '60'; document.querySelector('#replay-start').click()`))
	p.waitJS("the replay to start from the first post",
		`window.chatnight.mode() === 'replay' && document.querySelector('[data-post-id="brtest:o1"]')`, 5*time.Second)
	p.waitJS("the replay to reach the last post", `document.querySelector('[data-post-id="brtest:o3"]')`, 15*time.Second)
	if got := postIDs(p); fmt.Sprint(got) != fmt.Sprint([]string{id + ":o1", id + ":o2", id + ":o3"}) {
		t.Errorf("replay shows %v", got)
	}
	p.screenshot("replay", false)
	p.checkErrors()
}
