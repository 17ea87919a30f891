package readmodel

import (
	"context"
	"fmt"
	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/segments"
	"sort"
	"strconv"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/network"
	"github.com/chatnight/chatnight/web/redact"
)

// Account is a person (or, per account, an account) in a top list. A person of
// several accounts lists them, their posts per network and why they are linked.
type Account struct {
	ID       string                `json:"id"`
	Handle   string                `json:"handle"`
	Count    uint64                `json:"count"`
	Newcomer bool                  `json:"newcomer,omitempty"`
	Accounts []string              `json:"accounts,omitempty"`
	Networks map[string]uint64     `json:"networks,omitempty"`
	Why      []string              `json:"why,omitempty"`
	Segments []segments.Assignment `json:"segments,omitempty"`
}

// Valued is a value with how often it occurred.
type Valued struct {
	Value string `json:"value" ch:"value"`
	Count uint64 `json:"count" ch:"n"`
}

// Question is a tweetchat question with its answers.
type Question struct {
	Number    int       `json:"number"`
	PostID    string    `json:"post_id"`
	AuthorID  string    `json:"author_id"`
	Handle    string    `json:"handle"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	Answers   uint64    `json:"answers"`   // answer posts
	Answerers uint64    `json:"answerers"` // distinct authors of those
}

// SessionStats are the analytics of one session.
type SessionStats struct {
	Session Session `json:"session"`
	Counts
	TopParticipants []Account       `json:"top_participants"`
	MostMentioned   []Account       `json:"most_mentioned"`
	MostRepliedTo   []Account       `json:"most_replied_to"`
	Questions       []Question      `json:"questions"`
	Hashtags        []Valued        `json:"hashtags"` // co-occurring: the community's own excluded
	Domains         []Valued        `json:"domains"`
	URLs            []Valued        `json:"urls"`
	Languages       []Valued        `json:"languages"`
	Sources         []Valued        `json:"sources"`
	Activity        []Minute        `json:"activity"`
	Network         network.Metrics `json:"network"` // per_node: the Top by PageRank
	Segments        []SegmentCount  `json:"segments"`
	// Participants are the session's authors, most posts first (for reports), not
	// pseudonymized.
	Participants []SessionAuthor `json:"-"`
}

// SessionStats computes the analytics of sess. exclude lists hashtags left out of the
// co-occurring ones (the community's own, normalized). r may be nil.
func (s *Store) SessionStats(ctx context.Context, sess Session, exclude []string, r *redact.Redactor) (*SessionStats, error) {
	list := []Session{sess}
	counts, err := s.counts(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	accountEdges, err := s.edges(ctx, list, maxSessionEdges)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	byPerson, m, err := s.personAuthors(ctx, list, accountEdges)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	if err := s.addSegments(ctx, sess.Community, byPerson, r); err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	authors := byPerson[sess.ID]
	c := counts[sess.ID].withPeople(authors)
	sess.Posts, sess.Participants = c.Posts, c.Participants
	st := &SessionStats{Session: sess, Counts: c, Participants: authors}
	st.Segments = segmentCounts(visible(authors, r), s.rules(sess.Community))
	p := sessionParams(list).with("limit", strconv.Itoa(s.top()))

	// Top participants by posts (people come most posts first).
	st.TopParticipants = []Account{}
	for _, au := range authors[:min(len(authors), s.top())] {
		st.TopParticipants = append(st.TopParticipants, au.shown(r, au.Posts))
	}
	if exclude == nil {
		exclude = []string{}
	}
	var terms []struct {
		Dim   string `ch:"dim"`
		Value string `ch:"value"`
		N     uint64 `ch:"n"`
	}
	// Languages and sources are few: all of them, however short the top lists.
	q := p.with("exclude", storage.ArrayParam(exclude), "limit", strconv.Itoa(max(s.top(), 1000)))
	if err := s.conn.Select(s.ctx(ctx, q), &terms, queryTerms); err != nil {
		return nil, fmt.Errorf("session %s: hashtags, links, languages and sources: %w", sess.ID, err)
	}
	st.Hashtags, st.URLs, st.Domains, st.Languages, st.Sources = []Valued{}, []Valued{}, []Valued{}, []Valued{}, []Valued{}
	lists := map[string]*[]Valued{"hashtag": &st.Hashtags, "url": &st.URLs, "domain": &st.Domains, "lang": &st.Languages, "source": &st.Sources}
	for _, t := range terms {
		l := lists[t.Dim]
		if l == nil || ((t.Dim == "hashtag" || t.Dim == "url" || t.Dim == "domain") && len(*l) >= s.top()) {
			continue
		}
		*l = append(*l, Valued{Value: t.Value, Count: t.N})
	}
	if st.Activity, err = s.Activity(ctx, sess); err != nil {
		return nil, err
	}
	if st.Questions, err = s.questions(ctx, sess, p, r, m); err != nil {
		return nil, fmt.Errorf("session %s: questions: %w", sess.ID, err)
	}
	edges := PersonEdges(accountEdges, m)
	if st.MostMentioned, err = s.topReceived(ctx, sess, edges, "mention", r); err != nil {
		return nil, fmt.Errorf("session %s: most mentioned: %w", sess.ID, err)
	}
	if st.MostRepliedTo, err = s.topReceived(ctx, sess, edges, "reply", r); err != nil {
		return nil, fmt.Errorf("session %s: most replied to: %w", sess.ID, err)
	}
	st.Network = NetworkMetrics(edges, s.top(), nil)
	if err := s.nameNodes(ctx, sess, authors, st.Network.PerNode, r); err != nil {
		return nil, fmt.Errorf("session %s: most central: %w", sess.ID, err)
	}
	return st, nil
}

// nameNodes names the central accounts as the lists do: participants' handles, then the
// handles stored for the community (mentions give them), else the id without its
// network; then pseudonymizes them by r.
func (s *Store) nameNodes(ctx context.Context, sess Session, authors []SessionAuthor, nodes []network.NodeMetrics, r *redact.Redactor) error {
	known := make(map[string]string, len(authors))
	for _, au := range authors {
		if au.Handle != "" {
			known[au.AuthorID] = au.Handle
		}
	}
	var missing []string
	for _, nm := range nodes {
		if _, ok := known[nm.ID]; !ok {
			missing = append(missing, nm.ID)
		}
	}
	named, err := s.handles(ctx, sess.Community, missing)
	if err != nil {
		return err
	}
	for i, nm := range nodes {
		h, ok := known[nm.ID]
		if !ok {
			h = HandleOf(nm.ID, named[nm.ID])
		}
		nodes[i].ID, nodes[i].Handle = r.Account(nm.ID, h)
	}
	return nil
}

// received sums, per account, the weights of the edges of kind it received: the posts
// that replied to or mentioned it (each post has one author, so weights add up to
// distinct posts).
func received(edges []KindEdge, kind string) map[string]uint64 {
	out := map[string]uint64{}
	for _, e := range edges {
		if e.Kind == kind {
			out[e.Dst] += e.Weight
		}
	}
	return out
}

// topReceived is the accounts that received kind (reply, mention) most in sess.
func (s *Store) topReceived(ctx context.Context, sess Session, edges []KindEdge, kind string, r *redact.Redactor) ([]Account, error) {
	counts := received(edges, kind)
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if counts[ids[i]] != counts[ids[j]] {
			return counts[ids[i]] > counts[ids[j]]
		}
		return ids[i] < ids[j]
	})
	ids = ids[:min(len(ids), s.top())]
	named, err := s.handles(ctx, sess.Community, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(ids))
	for _, id := range ids {
		aid, h := r.Account(id, HandleOf(id, named[id]))
		out = append(out, Account{ID: aid, Handle: h, Count: counts[id]})
	}
	return out, nil
}

func ranked(m map[string]uint64) []Valued {
	out := make([]Valued, 0, len(m))
	for v, n := range m {
		out = append(out, Valued{Value: v, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	return out
}

func (s *Store) questions(ctx context.Context, sess Session, p params, r *redact.Redactor, pm *people.Mapping) ([]Question, error) {
	marks, err := s.marks(ctx, sess)
	if err != nil {
		return nil, err
	}
	byNum := map[int]*Question{}
	answerPosts := map[int]map[string]bool{}
	answerers := map[int]map[string]bool{}
	for _, m := range marks {
		n := int(m.Number)
		switch m.Kind {
		case "question":
			if _, ok := byNum[n]; !ok {
				byNum[n] = &Question{Number: n, PostID: m.PostID, AuthorID: m.AuthorID, CreatedAt: m.CreatedAt.UTC()}
			}
		case "answer":
			if answerPosts[n] == nil {
				answerPosts[n], answerers[n] = map[string]bool{}, map[string]bool{}
			}
			answerPosts[n][m.PostID] = true
			answerers[n][pm.Of(m.AuthorID)] = true
		}
	}
	out := []Question{}
	var ids []string
	for _, q := range byNum {
		q.Answers, q.Answerers = uint64(len(answerPosts[q.Number])), uint64(len(answerers[q.Number]))
		out = append(out, *q)
		ids = append(ids, q.PostID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	if len(ids) == 0 {
		return out, nil
	}
	var texts []struct {
		ID       string `ch:"id"`
		AuthorID string `ch:"author_id"`
		Handle   string `ch:"author_handle"`
		Text     string `ch:"text"`
	}
	if err := s.conn.Select(s.ctx(ctx, p.with("ids", storage.ArrayParam(ids))), &texts, queryPostTexts); err != nil {
		return nil, err
	}
	byID := map[string]int{}
	for i, t := range texts {
		byID[t.ID] = i
	}
	for i := range out {
		if j, ok := byID[out[i].PostID]; ok {
			out[i].Handle, out[i].Text = texts[j].Handle, texts[j].Text
		}
		if r.Hidden(out[i].AuthorID, out[i].Handle) {
			out[i].Text = redact.HiddenText
		} else {
			out[i].Text = r.Text(out[i].Text)
		}
		out[i].AuthorID, out[i].Handle = r.Account(out[i].AuthorID, out[i].Handle)
	}
	return out, nil
}

// KindEdge is an edge of one interaction kind.
type KindEdge struct {
	Src    string `ch:"src"`
	Dst    string `ch:"dst"`
	Kind   string `ch:"kind"`
	Weight uint64 `ch:"weight"`
}

// Edges reads the participant graph of sessions (of one community), per kind,
// heaviest first, between people (accounts in the per-account view).
func (s *Store) Edges(ctx context.Context, list []Session) ([]KindEdge, error) {
	edges, err := s.edges(ctx, list, maxSessionEdges)
	if err != nil {
		return nil, err
	}
	m, err := s.edgeMapping(ctx, edges)
	if err != nil {
		return nil, err
	}
	return PersonEdges(edges, m), nil
}

// edges is Edges, at most max of them.
func (s *Store) edges(ctx context.Context, list []Session, max int) ([]KindEdge, error) {
	out := []KindEdge{}
	p := sessionParams(list).with("max_edges", strconv.Itoa(max))
	if err := s.conn.Select(s.ctx(ctx, p), &out, queryEdges); err != nil {
		return nil, fmt.Errorf("read edges: %w", err)
	}
	return out, nil
}

// NetworkMetrics analyzes the graph of edges (kinds summed), keeping the top nodes by
// PageRank (all when top <= 0), pseudonymized by r.
func NetworkMetrics(edges []KindEdge, top int, r *redact.Redactor) network.Metrics {
	es := make([]network.Edge, len(edges))
	for i, e := range edges {
		es[i] = network.Edge{Src: e.Src, Dst: e.Dst, Weight: float64(e.Weight)}
	}
	m := network.Analyze(network.Build(es))
	if top > 0 && len(m.PerNode) > top {
		m.PerNode = m.PerNode[:top]
	}
	for i := range m.PerNode {
		m.PerNode[i].ID = r.ID(m.PerNode[i].ID)
	}
	return m
}
