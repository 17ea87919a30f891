package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// TestBidiNamesAreIsolated: a display name with an unterminated right-to-left override
// ("\u202e") cannot reverse the handle beside it, in the feed and in the participants list.
func TestBidiNamesAreIsolated(t *testing.T) {
	const id = "biditest"
	now := time.Now().UTC()
	c := newChat(id, id+"-s0", now.Add(-20*time.Minute)).sessionRow("scheduled", time.Hour)
	c.post(id+":1", "host", 0, "Q1 hello", func(p *storage.PostRow) { p.AuthorName = "\u202eNurse Ana" }).
		post(id+":2", "spoof\u202e", time.Minute, "A1 hi", func(p *storage.PostRow) { p.AuthorName = "Dr. Evil" })
	c.write(t)

	ts := startServer(t, communities(t, id), nil)
	p := openBrowser(t)
	p.do(20*time.Second, chromedp.Navigate(ts.url+"/#community="+id))
	p.waitJS("the posts", `document.querySelector('[data-post-id="biditest:2"]')`, 20*time.Second)

	for _, post := range []string{id + ":1", id + ":2"} {
		sel := `document.querySelector('[data-post-id="` + post + `"] `
		// Laid out left to right: the name first, then the handle after it.
		order := eval[bool](p, sel+`.name').getBoundingClientRect().right <= `+sel+`.handle').getBoundingClientRect().left + 1`)
		if !order {
			t.Errorf("%s: the handle is not laid out after the name", post)
		}
		for _, cls := range []string{"name", "handle"} {
			if got := eval[string](p, `getComputedStyle(`+sel+`.`+cls+`')).unicodeBidi`); got != "isolate" {
				t.Errorf("%s .%s: unicode-bidi %q, want isolate", post, cls, got)
			}
		}
	}
	if got := eval[string](p, `[...document.querySelectorAll('.person')].map(e => getComputedStyle(e).unicodeBidi).join(' ')`); strings.Contains(got, "normal") {
		t.Errorf("participants list: unicode-bidi %q", got)
	}
	p.screenshot("bidi", false)
	p.checkErrors()
}
