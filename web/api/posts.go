package api

import (
	"context"
	"net/http"

	"github.com/chatnight/chatnight/web/readmodel"
)

// Transcript is the answer of /api/sessions/{id}/posts.
type Transcript struct {
	Session   readmodel.Session `json:"session"`
	Posts     []readmodel.Post  `json:"posts"`
	Truncated bool              `json:"truncated"` // more than readmodel.MaxTranscript posts
}

// handlePosts answers GET /api/sessions/{id}/posts: the session's posts in time order,
// each with its Q/A marks (and, for answers, question_id) and thread placement.
func (a *API) handlePosts(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	t, err := a.transcript(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, t)
}

// transcript reads a session's posts with opted-out accounts hidden.
func (a *API) transcript(ctx context.Context, sess readmodel.Session) (Transcript, error) {
	posts, err := a.store.Transcript(ctx, sess, 0)
	if err != nil {
		return Transcript{}, err
	}
	red, err := a.redactor(ctx)
	if err != nil {
		return Transcript{}, err
	}
	truncated := len(posts) >= readmodel.MaxTranscript
	posts = redactPosts(posts, red)
	if posts == nil {
		posts = []readmodel.Post{}
	}
	return Transcript{Session: sess, Posts: posts, Truncated: truncated}, nil
}
