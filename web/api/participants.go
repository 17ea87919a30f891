package api

import (
	"context"
	"net/http"

	"github.com/chatnight/chatnight/web/readmodel"
)

// handleParticipants answers GET /api/sessions/{id}/participants: the leaderboard,
// most posts first, with replies and mentions received and newcomers marked; one row
// per person (their accounts listed), or per account with ?people=accounts.
func (a *API) handleParticipants(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	an, ok := a.analyzerFor(w, r) // people, or accounts with ?people=accounts
	if !ok {
		return
	}
	list, err := an.Participants(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if list == nil {
		list = []readmodel.Participant{}
	}
	red, err := a.redactor(ctx, sess.Community)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	redactParticipants(list, red)
	writeJSON(w, list)
}
