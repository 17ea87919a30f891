package api

import (
	"context"
	"net/http"

	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/web/export"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// Transcript is the answer of /api/sessions/{id}/posts.
type Transcript struct {
	Session   readmodel.Session `json:"session"`
	Posts     []readmodel.Post  `json:"posts"`
	Truncated bool              `json:"truncated"` // more than readmodel.MaxTranscript posts
	// Copies says, for each post that also appeared elsewhere (a bridged copy stored
	// once), everywhere it appeared: its own network first.
	Copies map[string][]copies.Copy `json:"copies,omitempty"`
	// Manifest is set on the transcript export (not on the viewer's /posts).
	Manifest *export.Manifest `json:"manifest,omitempty"`
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
	red, err := a.redactor(ctx, sess.Community)
	if err != nil {
		return Transcript{}, err
	}
	return a.transcriptWith(ctx, sess, red)
}

// transcriptWith reads a session's posts through red.
func (a *API) transcriptWith(ctx context.Context, sess readmodel.Session, red *redact.Redactor) (Transcript, error) {
	posts, err := a.store.Transcript(ctx, sess, 0)
	if err != nil {
		return Transcript{}, err
	}
	truncated := len(posts) >= readmodel.MaxTranscript
	posts = redactPosts(posts, red)
	if posts == nil {
		posts = []readmodel.Post{}
	}
	t := Transcript{Session: sess, Posts: posts, Truncated: truncated}
	if a.conn != nil && len(posts) > 0 {
		ids := make([]string, len(posts))
		for i, p := range posts {
			ids[i] = p.ID
		}
		cs, err := copies.Load(ctx, a.conn, sess.Community, ids)
		if err != nil {
			return Transcript{}, err
		}
		for _, p := range posts {
			if c, ok := cs[p.ID]; ok {
				if t.Copies == nil {
					t.Copies = map[string][]copies.Copy{}
				}
				t.Copies[p.ID] = copies.With(p.ID, p.URL, c)
			}
		}
	}
	return t, nil
}
