package api

import (
	"context"
	"net/http"

	"github.com/chatnight/chatnight/web/readmodel"
)

// handleActivity answers GET /api/sessions/{id}/activity: posts, authors, replies and
// reposts per minute.
func (a *API) handleActivity(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	list, err := a.store.Activity(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, list)
}
