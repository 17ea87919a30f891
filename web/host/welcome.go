// Package host holds what a chat's host needs beyond the viewer: the host console's
// content (the hosts' questions, posts waiting for a reply, first-timers and who
// welcomed them) and the welcome analytics (how many newcomers got a reply from
// someone else soon, who welcomes, and whether welcomed newcomers come back).
//
// Who is a newcomer is never decided here: it comes from readmodel.Attendance, the one
// newcomer rule of the read model (the author's first post in the community is in that
// session), so re-pointing that rule re-points the console and the analytics too.
package host

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// Reader computes the host view and the welcome analytics through one connection.
type Reader struct {
	conn driver.Conn
	an   *readmodel.Store
}

// New reads through conn, asking an who took part in which session.
func New(conn driver.Conn, an *readmodel.Store) *Reader { return &Reader{conn: conn, an: an} }

// Newcomer is a participant whose first post in the community is in a session.
type Newcomer struct {
	SessionID   string    `json:"-"`
	AuthorID    string    `json:"author_id"`
	Handle      string    `json:"handle"`
	FirstPostID string    `json:"first_post_id"`
	FirstPostAt time.Time `json:"first_post_at"`
	// WelcomedBy is the handle of the first other account that replied to them after
	// their first post (in the session, or within the welcome window after it); empty
	// when nobody has. MinutesToWelcome is how long that took.
	WelcomedBy       string   `json:"welcomed_by"`
	WelcomerID       string   `json:"welcomer_id,omitempty"`
	MinutesToWelcome *float64 `json:"minutes_to_welcome"`
	// Welcomed: that first reply came within the welcome window.
	Welcomed bool `json:"welcomed"`
	// Returned: they posted again in one of the next readmodel.Later sessions.
	Returned bool `json:"returned"`

	welcomers []string // every other account that replied within the window
	handles   map[string]string
}

// Welcomer is an account that replied to newcomers within the welcome window.
type Welcomer struct {
	AuthorID  string `json:"author_id"`
	Handle    string `json:"handle"`
	Newcomers int    `json:"newcomers"` // newcomers it replied to within the window
}

// Welcome are the welcome figures of a session, or of a period's sessions summed.
type Welcome struct {
	WindowMinutes float64 `json:"window_minutes"`
	Newcomers     int     `json:"newcomers"`
	// Welcomed newcomers got a reply from someone else within the window.
	Welcomed               int        `json:"welcomed"`
	WelcomedShare          *float64   `json:"welcomed_share"`
	MedianMinutesToWelcome *float64   `json:"median_minutes_to_welcome"`
	Welcomers              []Welcomer `json:"welcomers"` // most newcomers first
	// Returned… count the newcomers of each group who posted again in any of the next
	// readmodel.Later sessions; LaterSessions says how many of those are known yet (the
	// smallest over the sessions summed).
	ReturnedWelcomed   int `json:"returned_welcomed"`
	ReturnedUnwelcomed int `json:"returned_unwelcomed"`
	LaterSessions      int `json:"later_sessions"`
	// ReturnRate… are the returned shares of each group, and ReturnRatio how many times
	// as often welcomed newcomers return (null when a rate is unknown or zero).
	ReturnRateWelcomed   *float64 `json:"return_rate_welcomed"`
	ReturnRateUnwelcomed *float64 `json:"return_rate_unwelcomed"`
	ReturnRatio          *float64 `json:"return_ratio"`
}

// Point is one session of a welcome series.
type Point struct {
	Session readmodel.Session `json:"session"`
	Welcome
}

// Series are a community's welcome figures over a period: per session and in total.
type Series struct {
	Community string    `json:"community"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Sessions  []Point   `json:"sessions"` // oldest first
	Total     Welcome   `json:"total"`
}

// settings of a community's welcome analytics.
func window(cm *community.Community) time.Duration {
	if cm == nil || cm.WelcomeWindow <= 0 {
		return community.DefaultWelcomeWindow
	}
	return cm.WelcomeWindow
}

// SessionWelcome computes the welcome figures of sess and lists its newcomers.
func (rd *Reader) SessionWelcome(ctx context.Context, cm *community.Community, sess readmodel.Session, r *redact.Redactor) (Welcome, []Newcomer, error) {
	att, err := rd.an.Attendance(ctx, sess.Community, sess.Start, sess.Start.Add(time.Millisecond))
	if err != nil {
		return Welcome{}, nil, err
	}
	// Sessions starting at the same moment come in id order; keep sess and what follows it.
	for len(att.Sessions) > 0 && att.Sessions[0].ID != sess.ID {
		att.Sessions = att.Sessions[1:]
	}
	if len(att.Sessions) == 0 {
		return emptyWelcome(window(cm)), []Newcomer{}, nil
	}
	att.Period = 1
	att.Sessions = att.Sessions[:min(len(att.Sessions), 1+readmodel.Later)]
	points, newcomers, err := rd.welcome(ctx, cm, att, r)
	if err != nil {
		return Welcome{}, nil, fmt.Errorf("welcome of session %s: %w", sess.ID, err)
	}
	return points[0].Welcome, newcomers, nil
}

// SeriesOf computes the welcome series of cm's sessions that started in [from, to).
func (rd *Reader) SeriesOf(ctx context.Context, cm *community.Community, from, to time.Time, r *redact.Redactor) (*Series, error) {
	out := &Series{Community: cm.ID, From: from.UTC(), To: to.UTC(), Sessions: []Point{}, Total: emptyWelcome(window(cm))}
	att, err := rd.an.Attendance(ctx, cm.ID, from, to)
	if err != nil {
		return nil, err
	}
	if att.Period == 0 {
		return out, nil
	}
	points, newcomers, err := rd.welcome(ctx, cm, att, r)
	if err != nil {
		return nil, fmt.Errorf("welcome series of %s: %w", cm.ID, err)
	}
	out.Sessions = points
	out.Total = summarize(newcomers, window(cm), r)
	out.Total.LaterSessions = readmodel.Later
	for _, p := range points {
		out.Total.LaterSessions = min(out.Total.LaterSessions, p.LaterSessions)
	}
	return out, nil
}

func emptyWelcome(w time.Duration) Welcome {
	return Welcome{WindowMinutes: w.Minutes(), Welcomers: []Welcomer{}}
}

type firstPostRow struct {
	SID       string    `ch:"sid"`
	AuthorID  string    `ch:"author_id"`
	PostID    string    `ch:"post_id"`
	CreatedAt time.Time `ch:"first_at"`
}

type replyRow struct {
	ToID      string    `ch:"to_id"`
	AuthorID  string    `ch:"author_id"`
	Handle    string    `ch:"author_handle"`
	ID        string    `ch:"id"`
	CreatedAt time.Time `ch:"created_at"`
}

// welcome computes the figures of the period's sessions of att (att.Sessions[:Period])
// and returns them with the period's newcomers.
func (rd *Reader) welcome(ctx context.Context, cm *community.Community, att *readmodel.Attendance, r *redact.Redactor) ([]Point, []Newcomer, error) {
	win := window(cm)
	period := att.Sessions[:att.Period]
	var all []Newcomer
	ids := map[string]bool{}
	for _, s := range period {
		for _, au := range att.Authors[s.ID] {
			if au.Newcomer {
				all = append(all, Newcomer{SessionID: s.ID, AuthorID: au.AuthorID, Handle: au.Handle, FirstPostAt: au.FirstHere.UTC()})
				ids[au.AuthorID] = true
			}
		}
	}
	if len(all) > 0 {
		firsts, replies, err := rd.facts(ctx, period, ids, win)
		if err != nil {
			return nil, nil, err
		}
		for i := range all {
			n := &all[i]
			if f, ok := firsts[n.SessionID+"\x00"+n.AuthorID]; ok {
				n.FirstPostID, n.FirstPostAt = f.PostID, f.CreatedAt.UTC()
			}
			end := sessionEnd(att.Sessions, n.SessionID).Add(win)
			for _, rp := range replies[n.AuthorID] {
				at := rp.CreatedAt.UTC()
				if at.Before(n.FirstPostAt) || !at.Before(end) {
					continue
				}
				inWindow := at.Sub(n.FirstPostAt) <= win
				if n.WelcomedBy == "" {
					n.WelcomedBy, n.WelcomerID = rp.Handle, rp.AuthorID
					m := at.Sub(n.FirstPostAt).Minutes()
					n.MinutesToWelcome = &m
					n.Welcomed = inWindow
				}
				if inWindow {
					if n.handles == nil {
						n.handles = map[string]string{}
					}
					if _, seen := n.handles[rp.AuthorID]; !seen {
						n.welcomers = append(n.welcomers, rp.AuthorID)
					}
					n.handles[rp.AuthorID] = rp.Handle
				}
			}
		}
	}
	index := map[string]int{}
	for i, s := range att.Sessions {
		index[s.ID] = i
	}
	for i := range all {
		n := &all[i]
		at := index[n.SessionID]
		for _, later := range att.Sessions[at+1 : min(len(att.Sessions), at+1+readmodel.Later)] {
			for _, au := range att.Authors[later.ID] {
				if au.AuthorID == n.AuthorID {
					n.Returned = true
				}
			}
		}
	}
	bySession := map[string][]Newcomer{}
	for _, n := range all {
		bySession[n.SessionID] = append(bySession[n.SessionID], n)
	}
	points := make([]Point, len(period))
	for i, s := range period {
		points[i] = Point{Session: s, Welcome: summarize(bySession[s.ID], win, r)}
		points[i].LaterSessions = min(readmodel.Later, len(att.Sessions)-i-1)
	}
	for i := range all {
		n := &all[i]
		n.AuthorID, n.Handle = r.Account(n.AuthorID, n.Handle)
		if n.WelcomerID != "" {
			n.WelcomerID, n.WelcomedBy = r.Account(n.WelcomerID, n.WelcomedBy)
		}
	}
	return points, all, nil
}

func sessionEnd(list []readmodel.Session, id string) time.Time {
	for _, s := range list {
		if s.ID == id {
			return s.End
		}
	}
	return time.Time{}
}

// facts reads, for the newcomers ids of period, their first post in each session and
// the replies they got from others.
func (rd *Reader) facts(ctx context.Context, period []readmodel.Session, ids map[string]bool, win time.Duration) (map[string]firstPostRow, map[string][]replyRow, error) {
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	sort.Strings(list)
	p := readmodel.SessionParams(period)
	// Replies count up to the welcome window after the last session's end.
	end := period[0].End
	for _, s := range period {
		if s.End.After(end) {
			end = s.End
		}
	}
	p["to"] = end.Add(max(win, time.Hour)).UTC().Format("2006-01-02 15:04:05.000")
	firsts := map[string]firstPostRow{}
	replies := map[string][]replyRow{}
	const chunk = 5000
	for i := 0; i < len(list); i += chunk {
		p["authors"] = storage.ArrayParam(list[i:min(i+chunk, len(list))])
		qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters(p)))
		var fs []firstPostRow
		if err := rd.conn.Select(qctx, &fs, queryFirstPosts); err != nil {
			return nil, nil, fmt.Errorf("read newcomers' first posts: %w", err)
		}
		for _, f := range fs {
			firsts[f.SID+"\x00"+f.AuthorID] = f
		}
		var rs []replyRow
		if err := rd.conn.Select(qctx, &rs, queryRepliesTo); err != nil {
			return nil, nil, fmt.Errorf("read replies to newcomers: %w", err)
		}
		for _, rp := range rs {
			replies[rp.ToID] = append(replies[rp.ToID], rp)
		}
	}
	return firsts, replies, nil
}

// summarize sums the figures of newcomers (not yet pseudonymized).
func summarize(newcomers []Newcomer, win time.Duration, r *redact.Redactor) Welcome {
	w := emptyWelcome(win)
	w.Newcomers = len(newcomers)
	var minutes []float64
	type welcomer struct {
		handle string
		n      int
	}
	byID := map[string]*welcomer{}
	for _, n := range newcomers {
		if n.Welcomed {
			w.Welcomed++
			minutes = append(minutes, *n.MinutesToWelcome)
			if n.Returned {
				w.ReturnedWelcomed++
			}
		} else if n.Returned {
			w.ReturnedUnwelcomed++
		}
		for _, id := range n.welcomers {
			wl := byID[id]
			if wl == nil {
				wl = &welcomer{}
				byID[id] = wl
			}
			wl.handle = n.handles[id]
			wl.n++
		}
	}
	for id, wl := range byID {
		rid, h := r.Account(id, wl.handle)
		w.Welcomers = append(w.Welcomers, Welcomer{AuthorID: rid, Handle: h, Newcomers: wl.n})
	}
	sort.Slice(w.Welcomers, func(i, j int) bool {
		a, b := w.Welcomers[i], w.Welcomers[j]
		if a.Newcomers != b.Newcomers {
			return a.Newcomers > b.Newcomers
		}
		return a.Handle < b.Handle
	})
	if w.Newcomers > 0 {
		w.WelcomedShare = ratio(w.Welcomed, w.Newcomers)
	}
	w.MedianMinutesToWelcome = median(minutes)
	w.ReturnRateWelcomed = ratio(w.ReturnedWelcomed, w.Welcomed)
	w.ReturnRateUnwelcomed = ratio(w.ReturnedUnwelcomed, w.Newcomers-w.Welcomed)
	if w.ReturnRateWelcomed != nil && w.ReturnRateUnwelcomed != nil && *w.ReturnRateUnwelcomed > 0 {
		x := *w.ReturnRateWelcomed / *w.ReturnRateUnwelcomed
		w.ReturnRatio = &x
	}
	return w
}

func ratio(a, b int) *float64 {
	if b <= 0 {
		return nil
	}
	x := float64(a) / float64(b)
	return &x
}

func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return &m
}
