package readmodel

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/chatnight/chatnight/pipeline/segments"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// sessionRow is a stored session with its cells (a detected session's), as the session
// queries select it; the version is not read.
type sessionRow struct {
	storage.SessionRow
	Cells []string `ch:"cells"`
}

func (r *sessionRow) session() Session {
	sess := Session{ID: r.ID, Community: r.Community, Start: r.Start.UTC(), End: r.End.UTC(), Kind: r.Kind, Hosts: r.Hosts, Cells: r.Cells}
	if len(r.Cells) == 0 {
		sess.Cells = nil
	}
	if len(r.Hosts) == 0 {
		sess.Hosts = nil
	}
	return sess
}

// list reads sessions with query (columns of sessionRow) and, when counted, fills in
// their posts and participants.
func (s *Store) list(ctx context.Context, query string, p params, counted bool) ([]Session, error) {
	var rows []sessionRow
	if err := s.conn.Select(s.ctx(ctx, p), &rows, query); err != nil {
		return nil, err
	}
	out := make([]Session, len(rows))
	for i := range rows {
		out[i] = rows[i].session()
	}
	if counted && len(out) > 0 {
		counts, err := s.counts(ctx, out)
		if err != nil {
			return nil, err
		}
		var persons map[string]uint64
		if !s.PerAccount {
			if persons, err = s.peopleCounts(ctx, out); err != nil {
				return nil, fmt.Errorf("count the people of sessions: %w", err)
			}
		}
		for i := range out {
			c := counts[out[i].ID]
			out[i].Posts, out[i].Participants = c.Posts, c.Participants
			if n, ok := persons[out[i].ID]; ok {
				out[i].Participants = n
			}
		}
	}
	return out, nil
}

// peopleCounts is the number of people of each session, the accounts linked into
// people as the stats link them (personAuthors), for the sessions whose authors
// include linked accounts; the others' participants are their accounts already. It
// reads only the sessions' author ids, not the aggregate states a session's stats
// need, so a list stays cheap.
func (s *Store) peopleCounts(ctx context.Context, list []Session) (map[string]uint64, error) {
	var rows []struct {
		SessionID string   `ch:"sid"`
		Authors   []string `ch:"authors"`
	}
	if err := s.conn.Select(s.ctx(ctx, sessionParams(list)), &rows, querySessionAccounts); err != nil {
		return nil, fmt.Errorf("read the accounts of sessions: %w", err)
	}
	ids := map[string]struct{}{}
	for _, r := range rows {
		for _, a := range r.Authors {
			ids[a] = struct{}{}
		}
	}
	m, err := s.mapping(ctx, ids)
	if err != nil || len(m.Linked()) == 0 {
		return nil, err
	}
	out := make(map[string]uint64, len(rows))
	for _, r := range rows {
		seen := map[string]bool{}
		for _, a := range r.Authors {
			seen[m.Of(a)] = true
		}
		out[r.SessionID] = uint64(len(seen))
	}
	return out, nil
}

// Session reads one session with its counts; ok is false when there is none with that
// id. id is a scheduled session's id, a detected session's id or any of its cells (the
// detected session is returned), or the id of a detected session merged into another
// (the survivor is returned).
func (s *Store) Session(ctx context.Context, id string) (sess Session, ok bool, err error) {
	community, sid, ok, err := s.resolve(ctx, id)
	if err != nil || !ok {
		return Session{}, false, err
	}
	list, err := s.list(ctx, querySession, params{"community": community, "session": storage.StringParam(sid)}, true)
	if err != nil {
		return Session{}, false, fmt.Errorf("read session %q: %w", id, err)
	}
	if len(list) == 0 {
		return Session{}, false, nil
	}
	return list[0], true, nil
}

// resolve names the community and the session of a session id (see Session).
func (s *Store) resolve(ctx context.Context, id string) (community, session string, ok bool, err error) {
	var res []struct {
		Community string `ch:"community"`
		SessionID string `ch:"session_id"`
	}
	if err := s.conn.Select(s.ctx(ctx, params{"session": storage.StringParam(id)}), &res, queryResolve); err != nil {
		return "", "", false, fmt.Errorf("resolve session %q: %w", id, err)
	}
	if len(res) == 0 {
		return "", "", false, nil
	}
	return res[0].Community, res[0].SessionID, true, nil
}

// LatestSession is the last session of community that started at or before now, with
// its counts.
func (s *Store) LatestSession(ctx context.Context, community string, now time.Time) (Session, bool, error) {
	list, err := s.list(ctx, queryLatestSession, params{"community": community, "now": chTime(now)}, true)
	if err != nil || len(list) == 0 {
		if err != nil {
			err = fmt.Errorf("read latest session of %s: %w", community, err)
		}
		return Session{}, false, err
	}
	return list[0], true, nil
}

// LatestSessions returns, per community id, the session (scheduled or detected) that
// started last at or before now, with its counts.
func (s *Store) LatestSessions(ctx context.Context, communities []string, now time.Time) (map[string]Session, error) {
	out := make(map[string]Session, len(communities))
	for _, c := range communities {
		sess, ok, err := s.LatestSession(ctx, c, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out[c] = sess
		}
	}
	return out, nil
}

// Sessions lists up to limit sessions (scheduled and detected, never cells) of
// community that started before before, newest first, with their counts.
func (s *Store) Sessions(ctx context.Context, community string, before time.Time, limit int) ([]Session, error) {
	p := params{"community": community, "before": chTime(before), "limit": strconv.Itoa(limit)}
	list, err := s.list(ctx, querySessionList, p, true)
	if err != nil {
		return nil, fmt.Errorf("read sessions of %s: %w", community, err)
	}
	if list == nil {
		list = []Session{}
	}
	return list, nil
}

// window is the span of post times to read for sessions.
func window(list []Session) (from, to time.Time) {
	from, to = list[0].Start, list[0].End
	for _, s := range list {
		if s.Start.Before(from) {
			from = s.Start
		}
		if s.End.After(to) {
			to = s.End
		}
	}
	return from.Add(-windowMargin), to.Add(windowMargin)
}

// sessionParams binds the community of list (all of one community), the time window
// of its sessions, their stored ids (cells) and the session each belongs to (owners).
func sessionParams(list []Session) params {
	from, to := window(list)
	var cells, owners []string
	for _, s := range list {
		for _, id := range s.StoredIDs() {
			cells = append(cells, id)
			owners = append(owners, s.ID)
		}
	}
	return params{"community": list[0].Community, "from": chTime(from), "to": chTime(to),
		"cells": storage.ArrayParam(cells), "owners": storage.ArrayParam(owners)}
}

// Counts are the post and participant counts of a session.
type Counts struct {
	Posts        uint64 `json:"posts"`
	Originals    uint64 `json:"originals"`
	Replies      uint64 `json:"replies"`
	Reposts      uint64 `json:"reposts"`
	Quotes       uint64 `json:"quotes"`
	Participants uint64 `json:"participants"`
	// Newcomers posted in the community for the first time in this session; the other
	// participants are Returning.
	Newcomers uint64 `json:"newcomers"`
	Returning uint64 `json:"returning"`
	// PotentialReach is the sum of the followers of the session's unique authors;
	// Impressions the sum over posts of the author's followers when posting.
	PotentialReach uint64 `json:"potential_reach"`
	Impressions    uint64 `json:"impressions"`
}

type countsRow struct {
	SessionID    string `ch:"session_id"`
	Posts        uint64 `ch:"posts"`
	Originals    uint64 `ch:"originals"`
	Replies      uint64 `ch:"replies"`
	Reposts      uint64 `ch:"reposts"`
	Quotes       uint64 `ch:"quotes"`
	Participants uint64 `ch:"participants"`
	Impressions  uint64 `ch:"impressions"`
}

// counts reads the posts by kind, participants and impressions of sessions (all of
// one community), by session id.
func (s *Store) counts(ctx context.Context, list []Session) (map[string]Counts, error) {
	var rows []countsRow
	if err := s.conn.Select(s.ctx(ctx, sessionParams(list)), &rows, querySessionCounts); err != nil {
		return nil, fmt.Errorf("count posts of sessions: %w", err)
	}
	out := make(map[string]Counts, len(rows))
	for _, r := range rows {
		out[r.SessionID] = Counts{Posts: r.Posts, Originals: r.Originals, Replies: r.Replies, Reposts: r.Reposts,
			Quotes: r.Quotes, Participants: r.Participants, Impressions: r.Impressions}
	}
	return out, nil
}

// SessionAuthor is an author's part in a session.
type SessionAuthor struct {
	SessionID string    `ch:"session_id"`
	AuthorID  string    `ch:"author_id"`
	Handle    string    `ch:"handle"`
	Name      string    `ch:"name"`
	Posts     uint64    `ch:"posts"`
	Followers uint64    `ch:"followers"`
	IsHost    bool      `ch:"is_host"`
	FirstHere time.Time `ch:"first_here"` // first post in the session
	FirstSeen time.Time `ch:"first_seen"` // first post in the community
	Newcomer  bool      `ch:"newcomer"`
	// For a person: posts per network, why the accounts are linked, the accounts'
	// own rows, and the person's segments.
	Networks map[string]uint64     `ch:"-"`
	Why      []string              `ch:"-"`
	Members  []SessionAuthor       `ch:"-"`
	Segments []segments.Assignment `ch:"-"`
}

// authors reads the authors of sessions (all of one community), most posts first.
func (s *Store) authors(ctx context.Context, list []Session) ([]SessionAuthor, error) {
	var rows []SessionAuthor
	if err := s.conn.Select(s.ctx(ctx, sessionParams(list)), &rows, querySessionAuthors); err != nil {
		return nil, fmt.Errorf("read authors of sessions: %w", err)
	}
	for i := range rows {
		rows[i].FirstHere, rows[i].FirstSeen = rows[i].FirstHere.UTC(), rows[i].FirstSeen.UTC()
	}
	return rows, nil
}

// withAuthors adds to c what the authors of its session tell: newcomers, returning,
// reach.
func (c Counts) withAuthors(authors []SessionAuthor) Counts {
	for _, a := range authors {
		if a.Newcomer {
			c.Newcomers++
		}
		c.PotentialReach += a.Followers
	}
	c.Returning = c.Participants - c.Newcomers
	return c
}
