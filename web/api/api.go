// Package api serves the JSON the page reads: communities with their current and next
// session, a community's sessions, and per session its transcript, participants,
// graph and activity. Each endpoint has its own file so it can grow.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/web/host"
	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// API holds what the handlers share.
type API struct {
	store       *readmodel.Store
	communities *community.Config
	now         func() time.Time
	log         *slog.Logger
	analytics   bool            // set by EnableAnalytics
	conn        driver.Conn     // set by EnableAnalytics: copies, completeness, deletions
	host        *host.Reader    // set by EnableAnalytics
	optouts     *optout.OptOuts // nil: nobody is hidden
	// Version names the software in export manifests.
	Version string
	// Timeout bounds each request's ClickHouse reads.
	Timeout time.Duration
}

// New returns the API over st for the communities of cfg.
func New(st *readmodel.Store, cfg *community.Config, now func() time.Time, log *slog.Logger) *API {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{store: st, communities: cfg, now: now, log: log, Timeout: 15 * time.Second, Version: "dev"}
}

// Register adds the endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/communities", a.handleCommunities)
	mux.HandleFunc("GET /api/communities/{id}", a.handleCommunity)
	mux.HandleFunc("GET /api/communities/{id}/sessions", a.handleSessions)
	mux.HandleFunc("GET /api/sessions/{id}", a.forSession(a.handleSession))
	mux.HandleFunc("GET /api/sessions/{id}/posts", a.forSession(a.handlePosts))
	mux.HandleFunc("GET /api/sessions/{id}/participants", a.forSession(a.handleParticipants))
	mux.HandleFunc("GET /api/sessions/{id}/graph", a.forSession(a.handleGraph))
	mux.HandleFunc("GET /api/sessions/{id}/activity", a.forSession(a.handleActivity))
	if a.analytics {
		mux.HandleFunc("GET /api/communities/{id}/stats", a.handleCommunityStats)
		mux.HandleFunc("GET /api/sessions/{id}/stats", a.forSession(a.handleSessionStats))
		mux.HandleFunc("GET /api/sessions/{id}/people", a.forSession(a.handleSessionPeople))
		mux.HandleFunc("GET /api/sessions/{id}/transcript", a.forSession(a.handleTranscript))
		mux.HandleFunc("GET /api/sessions/{id}/completeness", a.forSession(a.handleCompleteness))
		mux.HandleFunc("GET /api/sessions/{id}/host", a.handleHost)
		mux.HandleFunc("GET /api/communities/{id}/welcome", a.forCommunityPeriod(a.handleWelcome))
		mux.HandleFunc("GET /api/communities/{id}/posts", a.forCommunity(a.handleCommunityPosts))
	}
	// GET only: the mux answers 405 (with Allow) to any other method under /api/.
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
}

// Snapshot implements hub.Backfiller.
func (a *API) Snapshot(ctx context.Context, communityID, session string) (readmodel.Snapshot, error) {
	cm, ok := a.communities.Lookup(communityID)
	if !ok {
		return readmodel.Snapshot{}, readmodel.ErrNotFound
	}
	snap, err := a.store.Snapshot(ctx, cm, session, a.now())
	if err != nil || len(snap.Posts) == 0 {
		return snap, err
	}
	red, err := a.redactor(ctx, communityID)
	if err != nil {
		return readmodel.Snapshot{}, err
	}
	snap.Posts = redactPosts(snap.Posts, red)
	return snap, nil
}

func (a *API) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.Timeout)
}

// session reads the session named in the path, answering 404 or 500 itself when it
// returns false. The id is a scheduled session's or a detected session's; any cell of
// a detected session resolves to that session (the response names its id).
func (a *API) session(w http.ResponseWriter, r *http.Request, ctx context.Context) (readmodel.Session, bool) {
	id := r.PathValue("id")
	sess, ok, err := a.store.Session(ctx, id)
	if err != nil {
		a.fail(w, r, err)
		return readmodel.Session{}, false
	}
	if !ok {
		writeError(w, http.StatusNotFound, "unknown session "+quote(id))
		return readmodel.Session{}, false
	}
	return sess, true
}

// sessionHandler answers a route under /api/sessions/{id}: ctx is bounded by the API's
// timeout, sess is the session {id} names.
type sessionHandler func(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session)

// forSession looks up the session of a /api/sessions/{id} route (unknown: 404) before h
// answers.
func (a *API) forSession(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := a.ctx(r)
		defer cancel()
		if sess, ok := a.session(w, r, ctx); ok {
			h(ctx, w, r, sess)
		}
	}
}

// communityHandler answers a route under /api/communities/{id}: ctx is bounded by the
// API's timeout, red holds the community's opt-outs.
type communityHandler func(ctx context.Context, w http.ResponseWriter, r *http.Request, cm *community.Community,
	red *redact.Redactor)

// forCommunity resolves the community {id} (unknown: 404) and its redactor before h
// answers.
func (a *API) forCommunity(h communityHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cm, ok := a.pathCommunity(w, r)
		if !ok {
			return
		}
		ctx, cancel := a.ctx(r)
		defer cancel()
		red, err := a.redactor(ctx, cm.ID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		h(ctx, w, r, cm, red)
	}
}

// periodHandler answers a route under /api/communities/{id} over the period [from, to)
// of its from= and to= parameters.
type periodHandler func(ctx context.Context, w http.ResponseWriter, r *http.Request, cm *community.Community,
	from, to time.Time, red *redact.Redactor)

// forCommunityPeriod is forCommunity with the period read too (malformed: 400).
func (a *API) forCommunityPeriod(h periodHandler) http.HandlerFunc {
	return a.forCommunity(func(ctx context.Context, w http.ResponseWriter, r *http.Request, cm *community.Community, red *redact.Redactor) {
		if from, to, ok := a.period(w, r); ok {
			h(ctx, w, r, cm, from, to, red)
		}
	})
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, readmodel.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	a.log.Warn("api request failed", "path", r.URL.Path, "err", err)
	status := http.StatusInternalServerError
	if errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	writeError(w, status, "reading from ClickHouse failed")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
