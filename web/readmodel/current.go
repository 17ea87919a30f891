package readmodel

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/sessions"
)

// ErrNotFound is returned when a requested session does not exist.
var ErrNotFound = errors.New("not found")

// Status is where a community stands at a moment.
type Status struct {
	// Current is the session going on, nil when none is. A scheduled slot in progress
	// whose session has no row yet is reported with an empty ID.
	Current *Session `json:"current"`
	// Latest is the session (scheduled or detected) that started last, current or not.
	Latest *Session `json:"latest"`
	// NextStart is the next scheduled start after now, nil without a schedule.
	NextStart *time.Time `json:"next_start"`
}

// StatusOf works out the current session and the next start of cm from its schedule
// and the latest session stored, by the rule of sessions.Status. A scheduled slot in
// progress whose session has no row yet is reported with an empty ID.
func StatusOf(cm *community.Community, latest *Session, now time.Time) Status {
	var st Status
	var l *sessions.Session
	if latest != nil {
		c := *latest
		st.Latest = &c
		l = &sessions.Session{ID: c.ID, Community: c.Community, Kind: c.Kind, Start: c.Start, End: c.End}
	}
	cur, next := sessions.Status(cm, l, now)
	switch {
	case cur == nil:
	case cur == l:
		st.Current = st.Latest
	default:
		st.Current = &Session{Community: cm.ID, Start: cur.Start, End: cur.End, Kind: cur.Kind}
	}
	if !next.IsZero() {
		st.NextStart = &next
	}
	return st
}

// Snapshot is what a viewer of a community is shown first.
type Snapshot struct {
	Session *Session // nil when the community has no session yet
	Current bool     // Session is the one going on
	Posts   []Post
}

// Snapshot reads the session a viewer of cm starts with: sessionID when given, else the
// current session, else the most recent one; and its transcript.
func (s *Store) Snapshot(ctx context.Context, cm *community.Community, sessionID string, now time.Time) (Snapshot, error) {
	var snap Snapshot
	if sessionID != "" {
		sess, ok, err := s.Session(ctx, sessionID)
		if err != nil {
			return snap, err
		}
		if !ok || sess.Community != cm.ID {
			return snap, ErrNotFound
		}
		snap.Session = &sess
		st := StatusOf(cm, &sess, now)
		snap.Current = st.Current != nil && st.Current.ID == sess.ID
	} else {
		l, ok, err := s.LatestSession(ctx, cm.ID, now)
		if err != nil {
			return snap, err
		}
		var lp *Session
		if ok {
			lp = &l
		}
		st := StatusOf(cm, lp, now)
		switch {
		case st.Current != nil && st.Current.ID != "":
			snap.Session, snap.Current = st.Current, true
		case st.Current != nil:
			// A scheduled slot without posts yet: nothing to backfill.
			snap.Session, snap.Current = st.Current, true
			return snap, nil
		default:
			snap.Session = st.Latest
		}
	}
	if snap.Session == nil {
		return snap, nil
	}
	posts, err := s.Transcript(ctx, *snap.Session, 0)
	if err != nil {
		return snap, err
	}
	snap.Posts = posts
	return snap, nil
}

// maxResolved bounds the cells a Resolver remembers; each answer is asked again after
// recheckFirst, in case the cell's session was merged into another since.
const (
	maxResolved  = 4096
	recheckFirst = 30 * time.Second
)

type resolved struct {
	id string
	at time.Time
}

// Resolver names the session the live posts of a cell belong to, for the hub
// (hub.Options.Resolve): the detected session the cell is part of, as stored in
// chatnight.detected_cells. Processors place a batch's detected sessions before
// announcing its posts, so the cell of a live post is already placed. Answers are
// cached for recheckFirst: a cell's session only changes when a late post merges two
// sessions, and the page then still shows the posts, under the old session.
type Resolver struct {
	store *Store
	log   *slog.Logger
	wait  time.Duration

	mu    sync.Mutex
	cache map[string]resolved // community + "\x00" + cell -> its session
}

// NewResolver resolves through st, waiting at most wait for ClickHouse per cell.
func NewResolver(st *Store, wait time.Duration, log *slog.Logger) *Resolver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resolver{store: st, log: log, wait: wait, cache: map[string]resolved{}}
}

// SessionOf returns the id of the session that posts of community stored with
// sessionID belong to: for a cell its detected session, otherwise sessionID itself (also
// when the look-up fails, which is logged).
func (r *Resolver) SessionOf(ctx context.Context, community, sessionID string) string {
	if !sessions.IsCellID(sessionID) {
		return sessionID
	}
	key := community + "\x00" + sessionID
	now := time.Now()
	r.mu.Lock()
	c, ok := r.cache[key]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < recheckFirst {
		return c.id
	}
	ctx, cancel := context.WithTimeout(ctx, r.wait)
	defer cancel()
	cm, id, found, err := r.store.resolve(ctx, sessionID)
	if err != nil || !found || cm != community {
		if err != nil {
			r.log.Warn("resolving a cell to its detected session failed", "community", community, "cell", sessionID, "err", err)
		}
		return sessionID
	}
	r.mu.Lock()
	if len(r.cache) >= maxResolved {
		clear(r.cache)
	}
	r.cache[key] = resolved{id: id, at: now}
	r.mu.Unlock()
	return id
}
