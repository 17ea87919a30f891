package api

import (
	"net/http"

	"github.com/chatnight/chatnight/web/readmodel"
)

// handleParticipants answers GET /api/sessions/{id}/participants: the leaderboard,
// most posts first, with replies and mentions received and newcomers marked.
func (a *API) handleParticipants(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	sess, ok := a.session(w, r, ctx)
	if !ok {
		return
	}
	list, err := a.store.Participants(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if list == nil {
		list = []readmodel.Participant{}
	}
	red, err := a.redactor(ctx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	redactParticipants(list, red)
	writeJSON(w, list)
}
