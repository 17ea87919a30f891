package readmodel

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/storage"
)

type markRow struct {
	PostID    string    `ch:"post_id"`
	Kind      string    `ch:"kind"`
	Number    uint16    `ch:"number"`
	AuthorID  string    `ch:"author_id"`
	CreatedAt time.Time `ch:"created_at"`
}

// marks reads the Q/A marks of sess in time order.
func (s *Store) marks(ctx context.Context, sess Session) ([]markRow, error) {
	var marks []markRow
	if err := s.conn.Select(s.ctx(ctx, sessionParams([]Session{sess})), &marks, queryMarks); err != nil {
		return nil, fmt.Errorf("read Q/A marks of session %q: %w", sess.ID, err)
	}
	return marks, nil
}

// questionPosts maps each question number of marks to its post: the first question
// with that number anywhere in the session (in a detected session, a question and its
// answers may carry different cells).
func questionPosts(marks []markRow) map[uint16]string {
	out := map[uint16]string{}
	for _, m := range marks { // in time order
		if m.Kind == "question" && out[m.Number] == "" {
			out[m.Number] = m.PostID
		}
	}
	return out
}

// Transcript returns the posts of sess in time order, at most limit (MaxTranscript when
// limit is 0), each with its Q/A marks. Each post's SessionID is sess.ID, for a
// detected session too (not the cell it is stored with), so the page groups a session's
// posts together.
func (s *Store) Transcript(ctx context.Context, sess Session, limit int) ([]Post, error) {
	if limit <= 0 || limit > MaxTranscript {
		limit = MaxTranscript
	}
	var rows []storage.PostRow
	p := sessionParams([]Session{sess}).with("limit", strconv.Itoa(limit))
	if err := s.conn.Select(s.ctx(ctx, p), &rows, queryPosts); err != nil {
		return nil, fmt.Errorf("read posts of session %q: %w", sess.ID, err)
	}
	marks, err := s.marks(ctx, sess)
	if err != nil {
		return nil, err
	}
	questions := questionPosts(marks)
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
			out[i].QuestionID = questions[m.Number]
		}
	}
	return out, nil
}

type receivedRow struct {
	ID       string `ch:"id"`
	Replies  uint64 `ch:"replies"`
	Mentions uint64 `ch:"mentions"`
}

// Participants returns the leaderboard of sess, most posts first.
func (s *Store) Participants(ctx context.Context, sess Session) ([]Participant, error) {
	authors, err := s.authors(ctx, []Session{sess})
	if err != nil {
		return nil, fmt.Errorf("participants of session %q: %w", sess.ID, err)
	}
	received, err := s.received(ctx, sess)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(authors))
	for i, a := range authors {
		ids[i] = a.AuthorID
	}
	var attended []struct {
		AuthorID string `ch:"author_id"`
		Sessions uint64 `ch:"sessions"`
	}
	if len(ids) > 0 {
		p := params{"community": sess.Community, "authors": storage.ArrayParam(ids)}
		if err := s.conn.Select(s.ctx(ctx, p), &attended, queryAuthorSessions); err != nil {
			return nil, fmt.Errorf("read sessions of the participants of %q: %w", sess.ID, err)
		}
	}
	sessions := make(map[string]uint64, len(attended))
	for _, a := range attended {
		sessions[a.AuthorID] = a.Sessions
	}
	out := make([]Participant, len(authors))
	for i, a := range authors {
		r := received[a.AuthorID]
		out[i] = Participant{
			AuthorID: a.AuthorID, Handle: a.Handle, Name: a.Name, Posts: a.Posts,
			RepliesReceived: r.Replies, MentionsReceived: r.Mentions, IsHost: a.IsHost,
			FirstSeen: a.FirstSeen, Sessions: max(sessions[a.AuthorID], 1), Newcomer: a.Newcomer,
		}
	}
	if s.PerAccount {
		return out, nil
	}
	m, err := s.Mapping(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("participants of session %q: %w", sess.ID, err)
	}
	return s.participantPeople(ctx, sess, out, m)
}

// participantPeople merges the leaderboard's accounts (list, most posts first) into
// people by m, as the stats merge them (byPerson): posts and what they received
// summed, the handle of the account with the most posts, a newcomer when every
// account is one, the sessions of any account.
func (s *Store) participantPeople(ctx context.Context, sess Session, list []Participant, m *people.Mapping) ([]Participant, error) {
	if len(m.Linked()) == 0 {
		return list, nil
	}
	index := map[string]int{}
	var out []Participant
	var merged []string // accounts of people of several accounts here
	for _, p := range list {
		pid := m.Of(p.AuthorID)
		i, ok := index[pid]
		if !ok {
			index[pid] = len(out)
			q := p
			q.AuthorID = pid
			q.Accounts = []string{p.AuthorID}
			out = append(out, q)
			continue
		}
		o := &out[i]
		if len(o.Accounts) == 1 {
			merged = append(merged, o.Accounts[0])
		}
		merged = append(merged, p.AuthorID)
		// list is most posts first (then by id): o keeps the first account's handle.
		o.Accounts = append(o.Accounts, p.AuthorID)
		o.Posts += p.Posts
		o.RepliesReceived += p.RepliesReceived
		o.MentionsReceived += p.MentionsReceived
		o.IsHost = o.IsHost || p.IsHost
		o.Newcomer = o.Newcomer && p.Newcomer
		if p.FirstSeen.Before(o.FirstSeen) {
			o.FirstSeen = p.FirstSeen
		}
	}
	sessions := map[string][]string{}
	if len(merged) > 0 {
		var rows []struct {
			AuthorID string   `ch:"author_id"`
			Sessions []string `ch:"sessions"`
		}
		p := params{"community": sess.Community, "authors": storage.ArrayParam(merged)}
		if err := s.conn.Select(s.ctx(ctx, p), &rows, queryAuthorSessionIDs); err != nil {
			return nil, fmt.Errorf("read sessions of the people of %q: %w", sess.ID, err)
		}
		for _, r := range rows {
			sessions[r.AuthorID] = r.Sessions
		}
	}
	for i := range out {
		o := &out[i]
		if len(o.Accounts) < 2 {
			o.Accounts = nil
			continue
		}
		sort.Strings(o.Accounts)
		union := map[string]bool{}
		for _, a := range o.Accounts {
			for _, sid := range sessions[a] {
				union[sid] = true
			}
		}
		o.Sessions = max(uint64(len(union)), 1)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Posts != out[j].Posts {
			return out[i].Posts > out[j].Posts
		}
		return out[i].AuthorID < out[j].AuthorID
	})
	return out, nil
}

// received reads the replies and mentions each account received in sess.
func (s *Store) received(ctx context.Context, sess Session) (map[string]receivedRow, error) {
	var rows []receivedRow
	if err := s.conn.Select(s.ctx(ctx, sessionParams([]Session{sess})), &rows, queryReceived); err != nil {
		return nil, fmt.Errorf("read replies and mentions received in session %q: %w", sess.ID, err)
	}
	out := make(map[string]receivedRow, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

// handles reads the latest handle of accounts of community.
func (s *Store) handles(ctx context.Context, community string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID     string `ch:"id"`
		Handle string `ch:"handle"`
	}
	p := params{"community": community, "ids": storage.ArrayParam(ids)}
	if err := s.conn.Select(s.ctx(ctx, p), &rows, queryHandles); err != nil {
		return nil, fmt.Errorf("read handles: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Handle
	}
	return out, nil
}

// Graph returns the participant graph of sess: every author and every account they
// interacted with, and the weighted edges between them.
func (s *Store) Graph(ctx context.Context, sess Session) (Graph, error) {
	authors, err := s.authors(ctx, []Session{sess})
	if err != nil {
		return Graph{}, fmt.Errorf("graph of session %q: %w", sess.ID, err)
	}
	// Between accounts as stored: the API merges a person's accounts (?people=).
	edges, err := s.edges(ctx, []Session{sess}, maxSessionEdges)
	if err != nil {
		return Graph{}, fmt.Errorf("graph of session %q: %w", sess.ID, err)
	}
	g := Graph{Nodes: make([]Node, 0, len(authors)), Edges: make([]Edge, len(edges))}
	for i, e := range edges {
		g.Edges[i] = Edge(e)
	}
	replies, mentions := received(edges, "reply"), received(edges, "mention")
	seen := make(map[string]bool, len(authors))
	for _, a := range authors {
		seen[a.AuthorID] = true
		g.Nodes = append(g.Nodes, Node{ID: a.AuthorID, Handle: a.Handle, Posts: a.Posts,
			RepliesReceived: replies[a.AuthorID], MentionsReceived: mentions[a.AuthorID], IsHost: a.IsHost})
	}
	// Accounts that only received interactions: count what they received from the edges.
	received := map[string]*Node{}
	var extra []string
	for _, e := range g.Edges {
		for _, id := range []string{e.Src, e.Dst} {
			if seen[id] || id == "" {
				continue
			}
			seen[id] = true
			extra = append(extra, id)
			received[id] = &Node{ID: id}
		}
		if n := received[e.Dst]; n != nil {
			switch e.Kind {
			case "reply":
				n.RepliesReceived += e.Weight
			case "mention":
				n.MentionsReceived += e.Weight
			}
		}
	}
	named, err := s.handles(ctx, sess.Community, extra)
	if err != nil {
		return Graph{}, fmt.Errorf("graph of session %q: %w", sess.ID, err)
	}
	sort.Strings(extra)
	for _, id := range extra {
		n := received[id]
		n.Handle = HandleOf(id, named[id])
		g.Nodes = append(g.Nodes, *n)
	}
	return g, nil
}

// Activity returns the activity per minute of sess.
func (s *Store) Activity(ctx context.Context, sess Session) ([]Minute, error) {
	out := []Minute{}
	if err := s.conn.Select(s.ctx(ctx, sessionParams([]Session{sess})), &out, queryActivity); err != nil {
		return nil, fmt.Errorf("read activity of session %q: %w", sess.ID, err)
	}
	for i := range out {
		out[i].Minute = out[i].Minute.UTC()
	}
	return out, nil
}
