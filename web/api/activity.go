package api

import "net/http"

// handleActivity answers GET /api/sessions/{id}/activity: posts, authors, replies and
// reposts per minute.
func (a *API) handleActivity(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	sess, ok := a.session(w, r, ctx)
	if !ok {
		return
	}
	list, err := a.store.Activity(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, list)
}
