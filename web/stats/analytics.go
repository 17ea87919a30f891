// Package stats computes community analytics from ClickHouse: per session (posts by
// kind, participants, newcomers, top accounts, questions and answers, hashtags, links,
// reach, language and source mix, activity, network metrics) and per community over a
// period (the same as a series, retention, growth, regulars, the period's network).
//
// SQL lives in queries.go with bound parameters only; graph algorithms are in package
// network and run in Go over a session's or period's edges.
package stats

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/segments"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/network"
	"github.com/chatnight/chatnight/web/redact"
)

// Defaults of an Analyzer.
const (
	DefaultTop = 10
	// MaxPeriodSessions bounds the sessions of one community series.
	MaxPeriodSessions = 1000
	// windowMargin widens a session's [start, end) when reading its posts by time; it
	// covers the scheduled grace windows (15 minutes before, 30 after).
	windowMargin = time.Hour
)

// Analyzer reads analytics through one ClickHouse connection.
type Analyzer struct {
	conn driver.Conn
	// Top is the length of each top list; default DefaultTop.
	Top int
	// People are the people the communities file declares (see package people).
	People []people.Declared
	// PerAccount counts accounts rather than people (--people=accounts).
	PerAccount bool
	// Rules returns a community's segment rules (their order and labels); nil uses
	// the built-in rules.
	Rules func(community string) *segments.Rules
}

// Accounts returns a copy of a that counts accounts rather than people.
func (a *Analyzer) Accounts() *Analyzer {
	c := *a
	c.PerAccount = true
	return &c
}

func (a *Analyzer) rules(community string) *segments.Rules {
	if a.Rules != nil {
		if r := a.Rules(community); r != nil {
			return r
		}
	}
	return segments.Default()
}

// New reads through conn.
func New(conn driver.Conn) *Analyzer { return &Analyzer{conn: conn, Top: DefaultTop} }

// Session is a chat session.
type Session struct {
	ID        string    `json:"id" ch:"id"`
	Community string    `json:"community" ch:"community"`
	Start     time.Time `json:"start" ch:"start"`
	End       time.Time `json:"end" ch:"end"`
	Kind      string    `json:"kind" ch:"kind"` // "scheduled" or "detected"
	// Cells are, for a detected session, the stored session ids (cells) it spans; its
	// ID is the first.
	Cells []string `json:"cells,omitempty" ch:"cells"`
}

// StoredIDs are the session_id values the posts, Q/A marks and edges of s carry: the
// cells of a detected session, the id of a scheduled one.
func (s *Session) StoredIDs() []string {
	if len(s.Cells) > 0 {
		return s.Cells
	}
	return []string{s.ID}
}

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

// Minute is the activity of one minute.
type Minute struct {
	Minute  time.Time `json:"minute" ch:"minute"`
	Posts   uint64    `json:"posts" ch:"posts"`
	Authors uint64    `json:"authors" ch:"authors"`
	Replies uint64    `json:"replies" ch:"replies"`
	Reposts uint64    `json:"reposts" ch:"reposts"`
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
	// Participants are the session's authors (for reports), not pseudonymized.
	Participants []SessionAuthor `json:"-"`
}

// SessionAuthor is an author's part in a session.
type SessionAuthor struct {
	SessionID string    `ch:"session_id"`
	AuthorID  string    `ch:"author_id"`
	Handle    string    `ch:"handle"`
	Posts     uint64    `ch:"posts"`
	Followers uint64    `ch:"followers"`
	FirstHere time.Time `ch:"first_here"`
	Newcomer  bool      `ch:"-"`
	// For a person: posts per network, why the accounts are linked, the accounts'
	// own rows, and the person's segments.
	Networks map[string]uint64     `ch:"-"`
	Why      []string              `ch:"-"`
	Members  []SessionAuthor       `ch:"-"`
	Segments []segments.Assignment `ch:"-"`
}

type params map[string]string

func (a *Analyzer) ctx(ctx context.Context, p params) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters(p)))
}

func chTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

func (a *Analyzer) top() int {
	if a.Top <= 0 {
		return DefaultTop
	}
	return a.Top
}

func (a *Analyzer) sessions(ctx context.Context, query string, p params) ([]Session, error) {
	var out []Session
	if err := a.conn.Select(a.ctx(ctx, p), &out, query); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Start, out[i].End = out[i].Start.UTC(), out[i].End.UTC()
		if len(out[i].Cells) == 0 {
			out[i].Cells = nil
		}
	}
	return out, nil
}

// Session reads one session; ok is false when there is none with that id. id is a
// scheduled session's id or any cell of a detected session, which is then returned.
func (a *Analyzer) Session(ctx context.Context, id string) (Session, bool, error) {
	list, err := a.sessions(ctx, querySession, params{"session": storage.StringParam(id)})
	if err != nil || len(list) == 0 {
		if err != nil {
			err = fmt.Errorf("read session %q: %w", id, err)
		}
		return Session{}, false, err
	}
	return list[0], true, nil
}

// LatestSession is the last session of community that started at or before now.
func (a *Analyzer) LatestSession(ctx context.Context, community string, now time.Time) (Session, bool, error) {
	list, err := a.sessions(ctx, queryLatestSession, params{"community": community, "now": chTime(now)})
	if err != nil || len(list) == 0 {
		if err != nil {
			err = fmt.Errorf("read latest session of %s: %w", community, err)
		}
		return Session{}, false, err
	}
	return list[0], true, nil
}

// window is the span of post times to read for sessions (in time order).
func window(list []Session) params {
	from, to := list[0].Start, list[0].End
	for _, s := range list {
		if s.Start.Before(from) {
			from = s.Start
		}
		if s.End.After(to) {
			to = s.End
		}
	}
	return params{"from": chTime(from.Add(-windowMargin)), "to": chTime(to.Add(windowMargin))}
}

// sessionParams binds the community of list, the time window of its sessions, their
// stored ids (cells) and the session each belongs to (owners).
func sessionParams(list []Session) params {
	p := window(list)
	var cells, owners []string
	for _, s := range list {
		for _, id := range s.StoredIDs() {
			cells = append(cells, id)
			owners = append(owners, s.ID)
		}
	}
	p["community"] = list[0].Community
	p["cells"] = storage.ArrayParam(cells)
	p["owners"] = storage.ArrayParam(owners)
	return p
}

type countsRow struct {
	SessionID   string    `ch:"session_id"`
	Posts       uint64    `ch:"posts"`
	Originals   uint64    `ch:"originals"`
	Replies     uint64    `ch:"replies"`
	Reposts     uint64    `ch:"reposts"`
	Quotes      uint64    `ch:"quotes"`
	Impressions uint64    `ch:"impressions"`
	FirstPost   time.Time `ch:"first_post"`
	LastPost    time.Time `ch:"last_post"`
}

// counts reads the counts of sessions (all of one community) and their authors, with
// newcomers marked, as people (see people.go), and the mapping used; edges are the
// sessions' edges, whose accounts the mapping covers too.
func (a *Analyzer) counts(ctx context.Context, list []Session, edges []KindEdge) (map[string]Counts, map[string][]SessionAuthor, *people.Mapping, error) {
	p := sessionParams(list)
	var rows []countsRow
	if err := a.conn.Select(a.ctx(ctx, p), &rows, querySessionCounts); err != nil {
		return nil, nil, nil, fmt.Errorf("count posts: %w", err)
	}
	var authors []SessionAuthor
	if err := a.conn.Select(a.ctx(ctx, p), &authors, querySessionAuthors); err != nil {
		return nil, nil, nil, fmt.Errorf("read session authors: %w", err)
	}
	ids := map[string]struct{}{}
	for _, r := range authors {
		ids[r.AuthorID] = struct{}{}
	}
	first, err := a.firstSeen(ctx, list[0].Community, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, e := range edges {
		ids[e.Src], ids[e.Dst] = struct{}{}, struct{}{}
	}
	m, err := a.mapping(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	out := make(map[string]Counts, len(list))
	for _, r := range rows {
		out[r.SessionID] = Counts{Posts: r.Posts, Originals: r.Originals, Replies: r.Replies, Reposts: r.Reposts,
			Quotes: r.Quotes, Impressions: r.Impressions}
	}
	accountsBySession := map[string][]SessionAuthor{}
	for _, r := range authors {
		accountsBySession[r.SessionID] = append(accountsBySession[r.SessionID], r)
	}
	bySession := map[string][]SessionAuthor{}
	for sid, accounts := range accountsBySession {
		for _, r := range byPerson(accounts, m) {
			// Newcomer: the person's first post in the community is in this session
			// (when the aggregate has not seen the post yet, the session's own post is
			// the first).
			r.Newcomer = true
			for _, acc := range r.Members {
				if f, ok := first[acc.AuthorID]; ok && f.Before(r.FirstHere) {
					r.Newcomer = false
				}
			}
			c := out[sid]
			c.Participants++
			if r.Newcomer {
				c.Newcomers++
			} else {
				c.Returning++
			}
			c.PotentialReach += r.Followers
			out[sid] = c
			bySession[sid] = append(bySession[sid], r)
		}
	}
	for sid := range bySession {
		sort.Slice(bySession[sid], func(i, j int) bool { return bySession[sid][i].AuthorID < bySession[sid][j].AuthorID })
	}
	return out, bySession, m, nil
}

func (a *Analyzer) firstSeen(ctx context.Context, community string, ids map[string]struct{}) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(ids))
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	sort.Strings(list)
	const chunk = 5000
	for i := 0; i < len(list); i += chunk {
		var rows []struct {
			AuthorID  string    `ch:"author_id"`
			FirstSeen time.Time `ch:"first_seen"`
		}
		p := params{"community": community, "authors": storage.ArrayParam(list[i:min(i+chunk, len(list))])}
		if err := a.conn.Select(a.ctx(ctx, p), &rows, queryFirstSeen); err != nil {
			return nil, fmt.Errorf("read first posts of authors: %w", err)
		}
		for _, r := range rows {
			out[r.AuthorID] = r.FirstSeen
		}
	}
	return out, nil
}

type accountRow struct {
	ID     string `ch:"id"`
	Handle string `ch:"handle"`
	N      uint64 `ch:"n"`
}

// SessionStats computes the analytics of sess. exclude lists hashtags left out of the
// co-occurring ones (the community's own, normalized). r may be nil.
func (a *Analyzer) SessionStats(ctx context.Context, sess Session, exclude []string, r *redact.Redactor) (*SessionStats, error) {
	list := []Session{sess}
	edges, err := a.accountEdges(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	counts, authors, m, err := a.counts(ctx, list, edges)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	if err := a.addSegments(ctx, sess.Community, authors, r); err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	st := &SessionStats{Session: sess, Counts: counts[sess.ID], Participants: authors[sess.ID]}
	st.Segments = segmentCounts(visible(st.Participants, r), a.rules(sess.Community))
	p := sessionParams(list)
	p["limit"] = strconv.Itoa(a.top())
	p["session"] = storage.StringParam(sess.ID)
	handles := map[string]string{}
	for _, au := range st.Participants {
		handles[au.AuthorID] = au.Handle
	}

	// Top participants by posts.
	parts := append([]SessionAuthor(nil), st.Participants...)
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].Posts != parts[j].Posts {
			return parts[i].Posts > parts[j].Posts
		}
		return parts[i].AuthorID < parts[j].AuthorID
	})
	st.TopParticipants = []Account{}
	for _, au := range parts[:min(len(parts), a.top())] {
		st.TopParticipants = append(st.TopParticipants, au.shown(r, au.Posts))
	}
	accounts := func(query string) ([]Account, error) {
		var rows []accountRow
		if err := a.conn.Select(a.ctx(ctx, p), &rows, query); err != nil {
			return nil, err
		}
		rows = personCounts(rows, m)
		out := make([]Account, 0, len(rows))
		for _, row := range rows {
			h := row.Handle
			if h == "" {
				h = handles[row.ID]
			}
			if h == "" {
				h = handleOf(row.ID)
			}
			id, h := r.Account(row.ID, h)
			out = append(out, Account{ID: id, Handle: h, Count: row.N})
		}
		return out, nil
	}
	if st.MostMentioned, err = accounts(queryMentioned); err != nil {
		return nil, fmt.Errorf("session %s: most mentioned: %w", sess.ID, err)
	}
	if st.MostRepliedTo, err = accounts(queryRepliedTo); err != nil {
		return nil, fmt.Errorf("session %s: most replied to: %w", sess.ID, err)
	}
	values := func(query string, extra params) ([]Valued, error) {
		q := p
		if extra != nil {
			q = params{}
			for k, v := range p {
				q[k] = v
			}
			for k, v := range extra {
				q[k] = v
			}
		}
		out := []Valued{}
		err := a.conn.Select(a.ctx(ctx, q), &out, query)
		return out, err
	}
	if exclude == nil {
		exclude = []string{}
	}
	if st.Hashtags, err = values(queryHashtags, params{"exclude": storage.ArrayParam(exclude)}); err != nil {
		return nil, fmt.Errorf("session %s: hashtags: %w", sess.ID, err)
	}
	if st.URLs, err = values(queryURLs, nil); err != nil {
		return nil, fmt.Errorf("session %s: links: %w", sess.ID, err)
	}
	if st.Domains, err = values(queryDomains, nil); err != nil {
		return nil, fmt.Errorf("session %s: domains: %w", sess.ID, err)
	}
	var mix []struct {
		Lang   string `ch:"lang"`
		Source string `ch:"source"`
		N      uint64 `ch:"n"`
	}
	if err := a.conn.Select(a.ctx(ctx, p), &mix, queryMix); err != nil {
		return nil, fmt.Errorf("session %s: language and source mix: %w", sess.ID, err)
	}
	langs, sources := map[string]uint64{}, map[string]uint64{}
	for _, m := range mix {
		langs[m.Lang] += m.N
		sources[m.Source] += m.N
	}
	st.Languages, st.Sources = ranked(langs), ranked(sources)
	st.Activity = []Minute{}
	if err := a.conn.Select(a.ctx(ctx, p), &st.Activity, queryMinutes); err != nil {
		return nil, fmt.Errorf("session %s: activity: %w", sess.ID, err)
	}
	for i := range st.Activity {
		st.Activity[i].Minute = st.Activity[i].Minute.UTC()
	}
	if st.Questions, err = a.questions(ctx, sess, p, r, m); err != nil {
		return nil, fmt.Errorf("session %s: questions: %w", sess.ID, err)
	}
	st.Network = NetworkMetrics(PersonEdges(edges, m), a.top(), r)
	return st, nil
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

func (a *Analyzer) questions(ctx context.Context, sess Session, p params, r *redact.Redactor, pm *people.Mapping) ([]Question, error) {
	var marks []struct {
		Kind      string    `ch:"kind"`
		Number    uint16    `ch:"number"`
		PostID    string    `ch:"post_id"`
		AuthorID  string    `ch:"author_id"`
		CreatedAt time.Time `ch:"created_at"`
	}
	if err := a.conn.Select(a.ctx(ctx, p), &marks, queryQA); err != nil {
		return nil, err
	}
	byNum := map[int]*Question{}
	answerPosts := map[int]map[string]bool{}
	answerers := map[int]map[string]bool{}
	for _, m := range marks {
		n := int(m.Number)
		switch m.Kind {
		case "question":
			if q, ok := byNum[n]; !ok || q.PostID == "" {
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
	q := params{}
	for k, v := range p {
		q[k] = v
	}
	q["ids"] = storage.ArrayParam(ids)
	var texts []struct {
		ID       string `ch:"id"`
		AuthorID string `ch:"author_id"`
		Handle   string `ch:"author_handle"`
		Text     string `ch:"text"`
	}
	if err := a.conn.Select(a.ctx(ctx, q), &texts, queryPostTexts); err != nil {
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
// between people (accounts in the per-account view).
func (a *Analyzer) Edges(ctx context.Context, list []Session) ([]KindEdge, error) {
	edges, err := a.accountEdges(ctx, list)
	if err != nil {
		return nil, err
	}
	ids := map[string]struct{}{}
	for _, e := range edges {
		ids[e.Src], ids[e.Dst] = struct{}{}, struct{}{}
	}
	m, err := a.mapping(ctx, ids)
	if err != nil {
		return nil, err
	}
	return PersonEdges(edges, m), nil
}

// accountEdges reads the graph between accounts as stored.
func (a *Analyzer) accountEdges(ctx context.Context, list []Session) ([]KindEdge, error) {
	var out []KindEdge
	if err := a.conn.Select(a.ctx(ctx, sessionParams(list)), &out, queryEdges); err != nil {
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

// handleOf names an account by its id when no handle is known: "sim:ana" is "ana".
func handleOf(id string) string {
	if _, h, ok := strings.Cut(id, ":"); ok {
		return h
	}
	return id
}
