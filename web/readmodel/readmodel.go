// Package readmodel is chatnight's one read model: every number shown about a session
// (its posts, participants, newcomers, activity, edges, Q/A) has one definition here,
// read from what the pipeline stored at write time, and the viewer's backfill, the
// hub's live resolution, the REST API, reports, exports, opt-out redaction and
// Grafana (through the views of migration 0005) all read it.
//
// Sessions are scheduled sessions (sessions rows of kind 'scheduled') and detected
// sessions (chatnight.bursts, stored by pipeline/bursts when posts are written). Posts,
// Q/A marks and edges carry a stored session id: a scheduled session's id, or the cell
// of an off-schedule post; a detected session's content is that of its cells
// (chatnight.detected_cells). A session's numbers come from the write-time aggregates
// (session_authors_agg, session_terms_agg, session_edges_agg, minute_activity_agg,
// author_first_agg, account_handles), read by primary key: they never scan posts.
//
// Definitions:
//   - posts: distinct posts stored with the session's ids, by kind;
//   - participants: distinct authors of those posts, an opted-out one included under
//     its pseudonym (its posts are hidden, not uncounted);
//   - newcomer: an author whose first post in the community is in the session;
//   - reach: the followers of the unique authors summed; impressions: followers summed
//     over posts;
//   - activity: distinct posts, authors, replies and reposts per minute;
//   - edge weight: distinct posts making the interaction.
//
// Every statement is a named constant in queries.go with bound parameters only.
package readmodel

import (
	"context"
	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/segments"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/live"
)

// Limits of a read.
const (
	// MaxTranscript bounds the posts one transcript read returns.
	MaxTranscript = 20000
	// DefaultTop is the length of each top list.
	DefaultTop = 10
	// MaxPeriodSessions bounds the sessions of one community series.
	MaxPeriodSessions = 1000
	// MaxPeriodEdges bounds the network of a community series: its heaviest
	// interactions. A session's network is never cut (it has far fewer).
	MaxPeriodEdges  = 5000
	maxSessionEdges = 1 << 30
	// windowMargin widens a session's [start, end) when reading its posts or minutes
	// by time; it covers the scheduled grace windows (15 minutes before, 30 after).
	windowMargin = time.Hour
)

// Session is a chat session, scheduled or detected.
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
	// Posts and Participants, by the read model's definitions.
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
	// Accounts are a person's accounts that posted in the session, when they are more
	// than one (AuthorID is then the person's id; see package people).
	Accounts []string `json:"accounts,omitempty"`
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

// Store reads the read model through one ClickHouse connection.
type Store struct {
	conn driver.Conn
	// Top is the length of each top list of the analytics; default DefaultTop.
	Top int
	// People are the people the communities file declares (see package people).
	People []people.Declared
	// PerAccount counts accounts rather than people (--people=accounts).
	PerAccount bool
	// Rules returns a community's segment rules (their order and labels); nil uses
	// the built-in rules.
	Rules func(community string) *segments.Rules
}

// New reads through conn.
func New(conn driver.Conn) *Store { return &Store{conn: conn, Top: DefaultTop} }

// Ping checks that ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

type params map[string]string

func (s *Store) ctx(ctx context.Context, p params) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters(p)))
}

// with returns a copy of p with kv added.
func (p params) with(kv ...string) params {
	out := make(params, len(p)+len(kv)/2)
	for k, v := range p {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// chTime formats t as a DateTime64(3, 'UTC') parameter.
func chTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

func (s *Store) top() int {
	if s.Top <= 0 {
		return DefaultTop
	}
	return s.Top
}

// HandleOf names an account: its handle when known, else the part of its id after the
// network ("sim:ana" is "ana").
func HandleOf(id, handle string) string {
	if handle != "" {
		return handle
	}
	if _, h, ok := strings.Cut(id, ":"); ok {
		return h
	}
	return id
}
