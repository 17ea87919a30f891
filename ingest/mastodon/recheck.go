package mastodon

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// Deletions on instances without streaming: a status this poller published is looked
// up once more after RecheckAfter; a 404 or 410 then means it was deleted. Each poll
// checks at most RecheckPerPoll statuses, oldest first, so an instance sees a few extra
// requests per poll at most; statuses beyond maxRecent waiting are not checked.
var (
	RecheckAfter   = 10 * time.Minute
	RecheckPerPoll = 5
)

const maxRecent = 1024

type recentStatus struct {
	localID, uri string
	at           time.Time // when it was published
}

// noteRecent keeps a published status for its recheck.
func (p *Poller) noteRecent(h statusHead) {
	if h.ID == "" || h.URI == "" {
		return
	}
	if len(p.recent) >= maxRecent {
		p.recent = p.recent[1:]
	}
	p.recent = append(p.recent, recentStatus{localID: string(h.ID), uri: h.URI, at: p.c.now()})
}

// recheck looks the due statuses up again and reports those the instance no longer has.
func (p *Poller) recheck(ctx context.Context, em *ingest.Emitter) error {
	due := p.c.now().Add(-RecheckAfter)
	for n := 0; n < RecheckPerPoll && len(p.recent) > 0 && !p.recent[0].at.After(due); n++ {
		st := p.recent[0]
		p.recent = p.recent[1:]
		u := p.c.base.JoinPath("/api/v1/statuses", url.PathEscape(st.localID)).String()
		_, _, err := p.c.get(ctx, u, false)
		var se *statusError
		if errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusGone) {
			d := steward.Deletion{PostID: PostID(st.uri), Source: "mastodon", Reason: "mastodon " + http.StatusText(se.Code) + " on recheck", At: p.c.now()}
			if err := em.Delete(ctx, d); err != nil {
				return err
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Found, or the instance did not answer: nothing is known to be deleted.
	}
	return nil
}
