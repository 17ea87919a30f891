package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/web/host"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// handleHost answers GET /api/sessions/{id}/host: the host console of the session
// (questions, posts waiting for a reply, first-timers and who welcomed them).
func (a *API) handleHost(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	sess, ok := a.session(w, r, ctx)
	if !ok {
		return
	}
	cm, ok := a.communities.Lookup(sess.Community)
	if !ok {
		writeError(w, http.StatusNotFound, "session "+quote(sess.ID)+" is of a community not configured here")
		return
	}
	t, err := a.transcript(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	red, err := a.redactor(ctx, cm.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.host.HostView(ctx, cm, sess, t.Posts, a.now(), red)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, v)
}

// SessionStats is the JSON of /api/sessions/{id}/stats: the session's analytics and
// its welcome figures.
type SessionStats struct {
	*readmodel.SessionStats
	Welcome host.Welcome `json:"welcome"`
}

// handleWelcome answers GET /api/communities/{id}/welcome?from=&to=: the welcome
// figures of each session of the period (default the last 90 days) and in total.
func (a *API) handleWelcome(ctx context.Context, w http.ResponseWriter, r *http.Request, cm *community.Community,
	from, to time.Time, red *redact.Redactor) {
	s, err := a.host.SeriesOf(ctx, cm, from, to, red)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, s)
}

// handleCommunityPosts answers GET /api/communities/{id}/posts?ids=a,b: the stored
// posts among ids (at most host.MaxParents), for quoting the parents of replies.
func (a *API) handleCommunityPosts(ctx context.Context, w http.ResponseWriter, r *http.Request, cm *community.Community,
	red *redact.Redactor) {
	var ids []string
	for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || len(ids) > host.MaxParents {
		writeError(w, http.StatusBadRequest, "ids must list 1 to 100 post ids, comma-separated")
		return
	}
	list, err := a.host.Parents(ctx, cm.ID, ids, red)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, list)
}

// pathCommunity is the community named in the path, answering 404 itself when it
// returns false.
func (a *API) pathCommunity(w http.ResponseWriter, r *http.Request) (*community.Community, bool) {
	cm, ok := a.communities.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "unknown community "+quote(r.PathValue("id")))
	}
	return cm, ok
}

// period reads ?from=&to= (RFC 3339 or 2006-01-02; default the last 90 days),
// answering 400 itself when it returns false.
func (a *API) period(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	to = a.now().UTC().Add(time.Minute)
	from = to.Add(-90 * 24 * time.Hour)
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		s := r.URL.Query().Get(p.name)
		if s == "" {
			continue
		}
		t, err := parseTime(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, p.name+" must be an RFC 3339 time or a date (2006-01-02)")
			return from, to, false
		}
		*p.t = t
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "from must be before to")
		return from, to, false
	}
	return from, to, true
}
