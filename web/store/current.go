package store

import (
	"context"
	"errors"
	"time"

	"github.com/chatnight/chatnight/community"
)

// ErrNotFound is returned when a requested session does not exist.
var ErrNotFound = errors.New("not found")

// Status is where a community stands at a moment.
type Status struct {
	// Current is the session going on, nil when none is. A scheduled slot in progress
	// whose session has no row yet is reported with an empty ID.
	Current *Session `json:"current"`
	// Latest is the session that started last, current or not.
	Latest *Session `json:"latest"`
	// NextStart is the next scheduled start after now, nil without a schedule.
	NextStart *time.Time `json:"next_start"`
}

// StatusOf works out the current session and the next start of cm from its schedule
// and the latest session stored.
//
// pipeline/sessions is meant to own this rule; until it exports one, the web tier
// computes it here from community.Slot.StartOnOrBefore / NextStartAfter.
func StatusOf(cm *community.Community, latest *Session, now time.Time) Status {
	var st Status
	if latest != nil {
		l := *latest
		st.Latest = &l
		end := l.End
		if l.Kind != "scheduled" {
			// A detected session goes on until a silence of SessionGap.
			end = end.Add(cm.SessionGap)
		}
		if !l.Start.After(now) && now.Before(end) {
			st.Current = &l
		}
	}
	var next time.Time
	for i := range cm.Schedule {
		slot := &cm.Schedule[i]
		if slot.Location() == nil {
			continue
		}
		start := slot.StartOnOrBefore(now)
		if end := start.Add(slot.Duration); st.Current == nil && now.Before(end) {
			st.Current = &Session{Community: cm.ID, Start: start.UTC(), End: end.UTC(), Kind: "scheduled"}
		}
		if n := slot.NextStartAfter(now).UTC(); next.IsZero() || n.Before(next) {
			next = n
		}
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
		latest, err := s.LatestSessions(ctx, now)
		if err != nil {
			return snap, err
		}
		var lp *Session
		if l, ok := latest[cm.ID]; ok {
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
