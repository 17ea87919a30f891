// Package store reads what the web tier shows from ClickHouse: sessions, transcripts
// with their Q/A marks, and the per-session participants, graph and activity. Every
// statement is a named constant in queries.go and takes bound parameters only.
//
// Sessions are scheduled sessions and detected sessions (bursts of off-schedule
// activity, resolved when read by the detected_sessions view). The cells that posts
// outside every scheduled slot carry are never shown as sessions: a cell id resolves to
// the detected session it is part of, and a detected session's content is that of all
// its cells.
package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// MaxTranscript bounds the posts one transcript read returns.
const MaxTranscript = 20000

// Session is a chat session as the page and the API show it.
type Session struct {
	ID        string    `json:"id"`
	Community string    `json:"community"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Kind      string    `json:"kind"` // "scheduled" or "detected"
	Hosts     []string  `json:"hosts,omitempty"`
	// Cells are, for a detected session, the stored session ids (cells) it spans, in
	// time order; its ID is the first.
	Cells []string `json:"cells,omitempty"`
	// Posts and Participants are filled by Sessions only.
	Posts        uint64 `json:"posts"`
	Participants uint64 `json:"participants"`
}

// StoredIDs are the session_id values the posts, Q/A marks and edges of s carry: the
// cells of a detected session, the id of a scheduled one.
func (s *Session) StoredIDs() []string {
	if len(s.Cells) > 0 {
		return s.Cells
	}
	return []string{s.ID}
}

// Post is a post of a transcript: the live event's shape, so the page handles backfill,
// transcripts and live events alike, plus what only the table knows.
type Post struct {
	live.Post
	// QuestionID is, for an answer, the post of the question it answers.
	QuestionID string `json:"question_id,omitempty"`
}

// Participant is a row of a session's leaderboard.
type Participant struct {
	AuthorID         string    `json:"author_id"`
	Handle           string    `json:"handle"`
	Name             string    `json:"name,omitempty"`
	Posts            uint64    `json:"posts"`
	RepliesReceived  uint64    `json:"replies_received"`
	MentionsReceived uint64    `json:"mentions_received"`
	IsHost           bool      `json:"is_host"`
	FirstSeen        time.Time `json:"first_seen"` // first post in the community
	Sessions         uint64    `json:"sessions"`   // sessions the author took part in
	// Newcomer: the author's first post in the community is in this session.
	Newcomer bool `json:"newcomer"`
}

// Node is a participant in the graph: an author or an account mentioned.
type Node struct {
	ID               string `json:"id"`
	Handle           string `json:"handle"`
	Posts            uint64 `json:"posts"`
	RepliesReceived  uint64 `json:"replies_received"`
	MentionsReceived uint64 `json:"mentions_received"`
	IsHost           bool   `json:"is_host,omitempty"`
}

// Edge is the weight of one kind of interaction from src to dst.
type Edge struct {
	Src    string `json:"src" ch:"src"`
	Dst    string `json:"dst" ch:"dst"`
	Kind   string `json:"kind" ch:"kind"` // reply, mention, quote, repost
	Weight uint64 `json:"weight" ch:"weight"`
}

// Graph is the participant graph of a session.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Minute is the activity of one minute.
type Minute struct {
	Minute  time.Time `json:"minute" ch:"minute"`
	Posts   uint64    `json:"posts" ch:"posts"`
	Authors uint64    `json:"authors" ch:"authors"`
	Replies uint64    `json:"replies" ch:"replies"`
	Reposts uint64    `json:"reposts" ch:"reposts"`
}

// Store reads through one ClickHouse connection.
type Store struct {
	conn driver.Conn
}

// New reads through conn.
func New(conn driver.Conn) *Store { return &Store{conn: conn} }

// Ping checks that ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

type params map[string]string

func (s *Store) ctx(ctx context.Context, p params) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters(p)))
}

// chTime formats t as a DateTime64(3, 'UTC') parameter.
func chTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

type sessionRow struct {
	ID           string    `ch:"id"`
	Community    string    `ch:"community"`
	Start        time.Time `ch:"start"`
	End          time.Time `ch:"end"`
	Kind         string    `ch:"kind"`
	Hosts        []string  `ch:"hosts"`
	Cells        []string  `ch:"cells"`
	Posts        uint64    `ch:"posts"`
	Participants uint64    `ch:"participants"`
}

func (r *sessionRow) session() Session {
	sess := Session{ID: r.ID, Community: r.Community, Start: r.Start.UTC(), End: r.End.UTC(), Kind: r.Kind,
		Hosts: r.Hosts, Posts: r.Posts, Participants: r.Participants}
	if len(r.Cells) > 0 {
		sess.Cells = r.Cells
	}
	if len(r.Hosts) == 0 {
		sess.Hosts = nil
	}
	return sess
}

// selectSessions runs a query whose columns are those of sessionRow, or a prefix of them.
func (s *Store) selectSessions(ctx context.Context, query string, p params, withCounts bool) ([]Session, error) {
	rows, err := s.conn.Query(s.ctx(ctx, p), query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var r sessionRow
		dest := []any{&r.ID, &r.Community, &r.Start, &r.End, &r.Kind, &r.Hosts, &r.Cells}
		if withCounts {
			dest = append(dest, &r.Posts, &r.Participants)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r.session())
	}
	return out, rows.Err()
}

// LatestSessions returns, per community id, the session (scheduled or detected) that
// started last at or before now.
func (s *Store) LatestSessions(ctx context.Context, now time.Time) (map[string]Session, error) {
	list, err := s.selectSessions(ctx, queryLatestSessions, params{"now": chTime(now)}, false)
	if err != nil {
		return nil, fmt.Errorf("read latest sessions: %w", err)
	}
	out := make(map[string]Session, len(list))
	for _, sess := range list {
		out[sess.Community] = sess
	}
	return out, nil
}

// Session reads one session; ok is false when there is none with that id. id is a
// scheduled session's id or any cell of a detected session (its own id is its first
// cell): the detected session is returned.
func (s *Store) Session(ctx context.Context, id string) (sess Session, ok bool, err error) {
	list, err := s.selectSessions(ctx, querySession, params{"session": storage.StringParam(id)}, false)
	if err != nil {
		return Session{}, false, fmt.Errorf("read session %q: %w", id, err)
	}
	if len(list) == 0 {
		return Session{}, false, nil
	}
	return list[0], true, nil
}

// Sessions lists up to limit sessions (scheduled and detected, never cells) of
// community that started before before, newest first, with their post and participant
// counts.
func (s *Store) Sessions(ctx context.Context, community string, before time.Time, limit int) ([]Session, error) {
	p := params{"community": community, "before": chTime(before), "limit": strconv.Itoa(limit)}
	list, err := s.selectSessions(ctx, querySessionsOfCommunity, p, true)
	if err != nil {
		return nil, fmt.Errorf("read sessions of %s: %w", community, err)
	}
	if list == nil {
		list = []Session{}
	}
	return list, nil
}

// sessionParams binds a session's community and its stored ids ({cells:Array(String)}).
func sessionParams(sess Session) params {
	return params{"community": sess.Community, "session": storage.StringParam(sess.ID), "cells": storage.ArrayParam(sess.StoredIDs())}
}

type markRow struct {
	PostID         string `ch:"post_id"`
	Kind           string `ch:"kind"`
	Number         uint16 `ch:"number"`
	QuestionPostID string `ch:"question_post_id"`
}

// Transcript returns the posts of sess in time order, at most limit (MaxTranscript when
// limit is 0), each with its Q/A marks. Each post's SessionID is sess.ID, for a
// detected session too (not the cell it is stored with), so the page groups a session's
// posts together.
func (s *Store) Transcript(ctx context.Context, sess Session, limit int) ([]Post, error) {
	if limit <= 0 || limit > MaxTranscript {
		limit = MaxTranscript
	}
	p := sessionParams(sess)
	p["limit"] = strconv.Itoa(limit)
	var rows []storage.PostRow
	if err := s.conn.Select(s.ctx(ctx, p), &rows, queryPostsOfSession); err != nil {
		return nil, fmt.Errorf("read posts of session %q: %w", sess.ID, err)
	}
	var marks []markRow
	if err := s.conn.Select(s.ctx(ctx, sessionParams(sess)), &marks, queryMarksOfSession); err != nil {
		return nil, fmt.Errorf("read Q/A marks of session %q: %w", sess.ID, err)
	}
	out := make([]Post, len(rows))
	index := make(map[string]int, len(rows))
	for i := range rows {
		out[i] = Post{Post: *rows[i].Live(nil)}
		out[i].SessionID = sess.ID
		index[rows[i].ID] = i
	}
	for _, m := range marks {
		i, ok := index[m.PostID]
		if !ok {
			continue
		}
		out[i].Marks = append(out[i].Marks, live.Mark{Kind: m.Kind, Number: int(m.Number)})
		if m.Kind == "answer" && out[i].QuestionID == "" {
			out[i].QuestionID = m.QuestionPostID
		}
	}
	return out, nil
}

type participantRow struct {
	AuthorID         string    `ch:"author_id"`
	Handle           string    `ch:"handle"`
	Name             string    `ch:"name"`
	Posts            uint64    `ch:"posts"`
	IsHost           bool      `ch:"is_host"`
	FirstHere        time.Time `ch:"first_here"`
	RepliesReceived  uint64    `ch:"replies_received"`
	MentionsReceived uint64    `ch:"mentions_received"`
	FirstSeen        time.Time `ch:"first_seen"`
	Sessions         uint64    `ch:"sessions"`
}

// Participants returns the leaderboard of sess, most posts first.
func (s *Store) Participants(ctx context.Context, sess Session) ([]Participant, error) {
	var rows []participantRow
	if err := s.conn.Select(s.ctx(ctx, sessionParams(sess)), &rows, queryParticipantsOfSession); err != nil {
		return nil, fmt.Errorf("read participants of session %q: %w", sess.ID, err)
	}
	out := make([]Participant, len(rows))
	for i, r := range rows {
		first := r.FirstSeen.UTC()
		if first.IsZero() || first.Unix() <= 0 || first.After(r.FirstHere) {
			// Not aggregated yet: the session's own posts are the first we know.
			first = r.FirstHere.UTC()
		}
		out[i] = Participant{
			AuthorID: r.AuthorID, Handle: r.Handle, Name: r.Name, Posts: r.Posts,
			RepliesReceived: r.RepliesReceived, MentionsReceived: r.MentionsReceived, IsHost: r.IsHost,
			FirstSeen: first, Sessions: max(r.Sessions, 1),
			Newcomer: !first.Before(r.FirstHere.UTC()),
		}
	}
	return out, nil
}

type handleRow struct {
	ID     string `ch:"id"`
	Handle string `ch:"handle"`
}

// Graph returns the participant graph of sess: every author and every account they
// interacted with, and the weighted edges between them.
func (s *Store) Graph(ctx context.Context, sess Session) (Graph, error) {
	parts, err := s.Participants(ctx, sess)
	if err != nil {
		return Graph{}, err
	}
	var edges []Edge
	if err := s.conn.Select(s.ctx(ctx, sessionParams(sess)), &edges, queryEdgesOfSession); err != nil {
		return Graph{}, fmt.Errorf("read edges of session %q: %w", sess.ID, err)
	}
	var handles []handleRow
	if err := s.conn.Select(s.ctx(ctx, sessionParams(sess)), &handles, queryMentionedHandles); err != nil {
		return Graph{}, fmt.Errorf("read mentioned accounts of session %q: %w", sess.ID, err)
	}
	g := Graph{Nodes: make([]Node, 0, len(parts)), Edges: edges}
	if g.Edges == nil {
		g.Edges = []Edge{}
	}
	seen := make(map[string]int, len(parts))
	for _, p := range parts {
		seen[p.AuthorID] = len(g.Nodes)
		g.Nodes = append(g.Nodes, Node{ID: p.AuthorID, Handle: p.Handle, Posts: p.Posts,
			RepliesReceived: p.RepliesReceived, MentionsReceived: p.MentionsReceived, IsHost: p.IsHost})
	}
	named := make(map[string]string, len(handles))
	for _, h := range handles {
		named[h.ID] = h.Handle
	}
	var extra []Node
	for _, e := range g.Edges {
		for _, id := range []string{e.Src, e.Dst} {
			if _, ok := seen[id]; ok || id == "" {
				continue
			}
			seen[id] = -1
			extra = append(extra, Node{ID: id, Handle: HandleOf(id, named[id])})
		}
	}
	// Accounts that only received interactions: count what they received from the edges.
	received := map[string]*Node{}
	for i := range extra {
		received[extra[i].ID] = &extra[i]
	}
	for _, e := range g.Edges {
		if n := received[e.Dst]; n != nil {
			switch e.Kind {
			case "reply":
				n.RepliesReceived += e.Weight
			case "mention":
				n.MentionsReceived += e.Weight
			}
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].ID < extra[j].ID })
	g.Nodes = append(g.Nodes, extra...)
	return g, nil
}

// HandleOf names an account: its handle when known, else the part of its id after the
// network ("sim:ana" is "ana").
func HandleOf(id, handle string) string {
	if handle != "" {
		return handle
	}
	for i := 0; i < len(id); i++ {
		if id[i] == ':' {
			return id[i+1:]
		}
	}
	return id
}

// Activity returns the posts per minute of sess.
func (s *Store) Activity(ctx context.Context, sess Session) ([]Minute, error) {
	var out []Minute
	if err := s.conn.Select(s.ctx(ctx, sessionParams(sess)), &out, queryActivityOfSession); err != nil {
		return nil, fmt.Errorf("read activity of session %q: %w", sess.ID, err)
	}
	for i := range out {
		out[i].Minute = out[i].Minute.UTC()
	}
	if out == nil {
		out = []Minute{}
	}
	return out, nil
}
