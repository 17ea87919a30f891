package api

import "net/http"

// handleGraph answers GET /api/sessions/{id}/graph: nodes (authors and the accounts
// they interacted with) and edges weighted per kind (reply, mention, quote, repost).
func (a *API) handleGraph(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	sess, ok := a.session(w, r, ctx)
	if !ok {
		return
	}
	g, err := a.store.Graph(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, g)
}
