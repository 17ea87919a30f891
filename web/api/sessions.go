package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/chatnight/chatnight/web/readmodel"
)

// handleSessions answers GET /api/communities/{id}/sessions[?limit=N][&before=RFC3339]:
// a JSON array of sessions, newest first, with post and participant counts.
func (a *API) handleSessions(w http.ResponseWriter, r *http.Request) {
	cm, ok := a.communities.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "unknown community "+quote(r.PathValue("id")))
		return
	}
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be 1..1000")
			return
		}
		limit = n
	}
	before := a.now().Add(365 * 24 * time.Hour)
	if s := r.URL.Query().Get("before"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "before must be an RFC 3339 time")
			return
		}
		before = t
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	list, err := a.store.Sessions(ctx, cm.ID, before, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, list)
}

// handleSession answers GET /api/sessions/{id}.
func (a *API) handleSession(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	writeJSON(w, sess)
}
