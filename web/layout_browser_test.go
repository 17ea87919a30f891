package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// layoutChecks are what must hold at every width: nothing overflows its panel or the
// page, whatever the handles.
const layoutChecks = `(() => {
	const bad = [];
	const d = document.documentElement;
	if (d.scrollWidth > d.clientWidth) bad.push('document ' + d.scrollWidth + ' > ' + d.clientWidth);
	for (const el of document.querySelectorAll('.panel, #board, .feed, .toolbar')) {
		if (el.scrollWidth > el.clientWidth + 1) bad.push((el.id || el.className) + ' ' + el.scrollWidth + ' > ' + el.clientWidth);
	}
	const panel = document.querySelector('#board').getBoundingClientRect();
	for (const th of document.querySelectorAll('#board thead th')) {
		const r = th.getBoundingClientRect();
		if (r.right > panel.right + 1 || r.width < 8) bad.push('column ' + th.textContent + ' cut');
	}
	return bad;
})()`

// TestViewerLayout: long user@instance handles and DIDs, 27 people and single-post
// sessions, at 1280x900 and 390x844: tables fit their panels, the graph names only the
// top people, the session list reads well and can hide short sessions, the session's
// downloads are linked, and Q/A opens on the latest question.
func TestViewerLayout(t *testing.T) {
	const id = "layout"
	now := time.Now().UTC()
	const gap = 30 * time.Minute
	start := sessions.CellStart(now.Add(-20*time.Minute), gap).Add(2 * time.Minute)
	solo := newChat(id, id+"-solo", start.Add(-14*24*time.Hour)).sessionRow("scheduled", time.Hour)
	solo.post(id+":s1", "lonely", 0, "just me here")
	solo.write(t)
	cur := newChat(id, "", start).offSchedule(gap)
	sid := sessions.CellID(id, sessions.CellStart(start, gap))
	handles := []string{
		"averyveryverylongusername@mastodon.healthcare.example.social",
		"did:plc:ewvi7nxzyoun6zhxrhs64oiz",
		"nurse.practitioner.with.a.long.name.bsky.social",
	}
	for i := len(handles); i < 26; i++ {
		handles = append(handles, fmt.Sprintf("person%02d", i))
	}
	cur.post(id+":q1", "host", 0, "Q1 What does good care look like?")
	for i, h := range handles {
		cur.post(fmt.Sprintf("%s:a1-%d", id, i), h, time.Duration(i+1)*10*time.Second,
			fmt.Sprintf("A1 answer from %s", h), replyTo(id+":q1", "host"), mentions(handles[(i+1)%len(handles)]))
	}
	cur.post(id+":q2", "host", 6*time.Minute, "Q2 And what gets in the way?")
	for i, h := range handles[:12] {
		cur.post(fmt.Sprintf("%s:a2-%d", id, i), h, 6*time.Minute+time.Duration(i+1)*10*time.Second,
			fmt.Sprintf("A2 the paperwork, says %s", h), replyTo(id+":q2", "host"))
	}
	for i := range 10 {
		cur.post(fmt.Sprintf("%s:x-%d", id, i), handles[i], 9*time.Minute+time.Duration(i)*time.Second, "hello everyone, glad to be here")
	}
	cur.post(id+":rp", handles[1], 9*time.Minute+30*time.Second, "", func(p *storage.PostRow) {
		p.Kind, p.RepostOfID, p.RepostOfAuthorID = "repost", id+":q1", "sim:host"
	})
	cur.write(t)

	ts := startServer(t, communities(t, id), nil)
	p := openBrowser(t)
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/#community="+id))
	p.waitJS("the backfill", `document.querySelector('[data-post-id="layout:x-9"]')`, 20*time.Second)
	p.waitJS("the leaderboard", `document.querySelectorAll('#board tbody tr').length === 15`, 10*time.Second)

	check := func(size string) {
		t.Helper()
		if bad := eval[[]string](p, layoutChecks); len(bad) > 0 {
			t.Errorf("%s: overflow: %q", size, bad)
		}
		labels := eval[[]string](p, `window.chatnight.graphLabels()`)
		if len(labels) == 0 || len(labels) > 8 {
			t.Errorf("%s: graph names %d people, want the top ones (1..8) of 27", size, len(labels))
		}
	}
	// A repost shows the post it shares.
	if got := eval[string](p, `document.querySelector('[data-post-id="layout:rp"] .reposted').textContent`); !strings.Contains(got, "Reposted from @host") ||
		!strings.Contains(got, "What does good care look like?") {
		t.Errorf("repost renders %q, want the shared question", got)
	}
	check("1280x900")
	p.screenshot("layout-1280", false)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('#graph').scrollIntoView()`))
	p.screenshot("layout-1280-graph", false)

	// Downloads of the session shown.
	links := eval[[]string](p, `[...document.querySelectorAll('#downloads a')].map((a) => a.getAttribute('href'))`)
	wantLinks := []string{"transcript?format=json", "transcript?format=csv", "transcript?format=md", "transcript?format=html",
		"graph?format=gexf", "graph?format=graphml", "/stats"}
	if len(links) != len(wantLinks) {
		t.Fatalf("download links %q", links)
	}
	for i, w := range wantLinks {
		if !strings.HasPrefix(links[i], "/api/sessions/"+sid+"/") || !strings.HasSuffix(links[i], w) {
			t.Errorf("download link %d = %q, want the session's %s", i, links[i], w)
		}
	}
	p.waitJS("every download to answer", `(async () => {
		for (const a of document.querySelectorAll('#downloads a')) if ((await fetch(a.href)).status !== 200) return false;
		return true; })()`, 10*time.Second)

	// The session list: singular wording, and short sessions can be hidden.
	options := eval[[]string](p, `[...document.querySelectorAll('#session option')].map((o) => o.textContent)`)
	if !strings.Contains(strings.Join(options, "|"), "· 1 post, 1 person") || strings.Contains(strings.Join(options, "|"), "· 1 posts") || strings.Contains(strings.Join(options, "|"), " 1 people") {
		t.Errorf("session options %q", options)
	}
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`{const m = document.querySelector('#min-posts'); m.value = '2'; m.dispatchEvent(new Event('change'))}`))
	options = eval[[]string](p, `[...document.querySelectorAll('#session option')].map((o) => o.textContent)`)
	if strings.Contains(strings.Join(options, "|"), "1 post,") || !strings.Contains(strings.Join(options, "|"), "1 shorter session hidden") {
		t.Errorf("with 2+ posts the session options are %q", options)
	}

	// Q/A opens on the latest question, not on "Other posts" below it.
	qaInView := `((f) => {
		const box = f.getBoundingClientRect();
		const q2 = document.querySelector('section.question[data-question="2"]').getBoundingClientRect();
		const other = document.querySelector('#feed section.other').getBoundingClientRect();
		return q2.bottom > box.top + 20 && q2.top < box.bottom - 20 && other.top >= box.bottom - 12;
	})(document.querySelector('#feed'))`
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=view][value=qa]').click()`))
	p.waitJS("Q/A on the latest question", qaInView, 5*time.Second)
	p.screenshot("layout-qa", false)
	// After a restart (the page loads again), the same.
	p.do(20*time.Second, chromedp.Reload())
	p.waitJS("the backfill again", `document.querySelector('[data-post-id="layout:x-9"]')`, 20*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=view][value=qa]').click()`))
	p.waitJS("Q/A on the latest question after a reload", qaInView, 5*time.Second)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=view][value=stream]').click()`))

	// The larger graph.
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('.graph-expand').click()`))
	p.waitJS("the expanded graph", `document.querySelector('dialog.graph-dialog').open &&
		document.querySelector('dialog.graph-dialog canvas').getBoundingClientRect().width > 700`, 5*time.Second)
	p.screenshot("layout-graph", false)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog.graph-dialog').close()`))

	p.do(5*time.Second, emulate(390, 844, true, "light"))
	p.waitJS("the phone layout", `document.documentElement.clientWidth === 390`, 5*time.Second)
	check("390x844")
	p.screenshot("layout-390", false)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('#board').scrollIntoView()`))
	p.screenshot("layout-390-board", false)
	p.do(5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector('#graph').scrollIntoView()`))
	p.screenshot("layout-390-graph", false)
	p.checkErrors()
}
