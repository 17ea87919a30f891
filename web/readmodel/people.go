package readmodel

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/segments"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/redact"
)

// This file is where the read path turns accounts into people (package people): the
// analytics count people, with a per-network breakdown and why their accounts are
// linked. It is the one place the account -> person mapping is applied, so another
// read model can take it over whole.

// SegmentCount is a segment's share of a session or period: the people holding it
// and their posts.
type SegmentCount struct {
	Segment      string `json:"segment"`
	Label        string `json:"label"`
	Participants uint64 `json:"participants"`
	Posts        uint64 `json:"posts"`
}

// Accounts returns a copy of s that counts accounts rather than people.
func (s *Store) Accounts() *Store {
	c := *s
	c.PerAccount = true
	return &c
}

func (s *Store) rules(community string) *segments.Rules {
	if s.Rules != nil {
		if r := s.Rules(community); r != nil {
			return r
		}
	}
	return segments.Default()
}

// UseConfig takes the declared people and the communities' segment rules from cfg.
func (s *Store) UseConfig(cfg *community.Config) {
	s.People = cfg.People
	s.Rules = func(id string) *segments.Rules {
		if cm, ok := cfg.Lookup(id); ok {
			return cm.SegmentRules()
		}
		return cfg.BaseSegmentRules()
	}
}

// Mapping is the account -> person mapping of ids (and of the accounts linked to
// them); nil, every account its own person, in the per-account view.
func (s *Store) Mapping(ctx context.Context, ids []string) (*people.Mapping, error) {
	set := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	return s.mapping(ctx, set)
}

// mapping loads the account -> person mapping of accounts; nil (every account its own
// person) in the per-account view.
func (s *Store) mapping(ctx context.Context, accounts map[string]struct{}) (*people.Mapping, error) {
	if s.PerAccount {
		return nil, nil
	}
	ids := make([]string, 0, len(accounts))
	for id := range accounts {
		if id != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	m, err := people.Load(ctx, s.conn, ids, s.People)
	if err != nil {
		return nil, fmt.Errorf("link accounts into people: %w", err)
	}
	return m, nil
}

// personAuthors reads the authors of sessions (all of one community) and maps them
// onto people: the one place the read model's per-account results (the write-time
// aggregates) become per-person ones. edges are the sessions' account edges, whose
// accounts the mapping covers too. Each session's people come most posts first.
func (s *Store) personAuthors(ctx context.Context, list []Session, edges []KindEdge) (map[string][]SessionAuthor, *people.Mapping, error) {
	authors, err := s.authors(ctx, list)
	if err != nil {
		return nil, nil, err
	}
	ids := map[string]struct{}{}
	for _, au := range authors {
		ids[au.AuthorID] = struct{}{}
	}
	for _, e := range edges {
		ids[e.Src], ids[e.Dst] = struct{}{}, struct{}{}
	}
	m, err := s.mapping(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	accounts := map[string][]SessionAuthor{}
	for _, au := range authors {
		accounts[au.SessionID] = append(accounts[au.SessionID], au)
	}
	out := make(map[string][]SessionAuthor, len(accounts))
	for sid, list := range accounts {
		ps := byPerson(list, m)
		for _, p := range ps {
			sort.Slice(p.Members, func(i, j int) bool { return p.Members[i].AuthorID < p.Members[j].AuthorID })
		}
		sort.SliceStable(ps, func(i, j int) bool {
			if ps[i].Posts != ps[j].Posts {
				return ps[i].Posts > ps[j].Posts
			}
			return ps[i].AuthorID < ps[j].AuthorID
		})
		out[sid] = ps
	}
	return out, m, nil
}

// edgeMapping is the account -> person mapping of the accounts of edges.
func (s *Store) edgeMapping(ctx context.Context, edges []KindEdge) (*people.Mapping, error) {
	if s.PerAccount {
		return nil, nil
	}
	ids := map[string]struct{}{}
	for _, e := range edges {
		ids[e.Src], ids[e.Dst] = struct{}{}, struct{}{}
	}
	return s.mapping(ctx, ids)
}

// withPeople is c with its participants counted as people (newcomers, returning and
// reach from them).
func (c Counts) withPeople(persons []SessionAuthor) Counts {
	c.Participants, c.Newcomers, c.PotentialReach = uint64(len(persons)), 0, 0
	return c.withAuthors(persons)
}

// byPerson merges a session's author rows (one per account) into one per person: posts
// and followers summed, the first post the earliest, the handle that of the account
// with the most posts here, Networks the posts per network.
func byPerson(authors []SessionAuthor, m *people.Mapping) []SessionAuthor {
	index := map[string]int{}
	var out []SessionAuthor
	best := map[string]uint64{}   // person -> posts of the account whose handle is shown
	bestID := map[string]string{} // person -> that account
	for _, au := range authors {
		network, _, _ := strings.Cut(au.AuthorID, ":")
		pid := m.Of(au.AuthorID)
		i, ok := index[pid]
		if !ok {
			i = len(out)
			index[pid] = i
			out = append(out, SessionAuthor{SessionID: au.SessionID, AuthorID: pid, Handle: au.Handle, Name: au.Name,
				FirstHere: au.FirstHere, FirstSeen: au.FirstSeen, Newcomer: true, Networks: map[string]uint64{}})
			if p := m.Person(pid); p != nil {
				out[i].Why = p.Why
			}
		}
		o := &out[i]
		if b, ok := bestID[pid]; !ok || au.Posts > best[pid] || au.Posts == best[pid] && au.AuthorID < b {
			best[pid], bestID[pid], o.Handle, o.Name = au.Posts, au.AuthorID, au.Handle, au.Name
		}
		o.Posts += au.Posts
		o.Followers += au.Followers
		if au.FirstHere.Before(o.FirstHere) {
			o.FirstHere = au.FirstHere
		}
		if au.FirstSeen.Before(o.FirstSeen) {
			o.FirstSeen = au.FirstSeen
		}
		// A person is new when every one of their accounts is (the one newcomer rule,
		// per account: its first post in the community is in this session).
		o.Newcomer = o.Newcomer && au.Newcomer
		o.IsHost = o.IsHost || au.IsHost
		o.Networks[network] += au.Posts
		o.Members = append(o.Members, au)
	}
	return out
}

// hidden says whether any account of a person opted out: the whole person is then
// shown as a pseudonym, with no segment and no links.
func (au *SessionAuthor) hidden(r *redact.Redactor) bool {
	if r.Empty() {
		return false
	}
	for _, m := range au.Members {
		if r.Hidden(m.AuthorID, m.Handle) {
			return true
		}
	}
	return r.Hidden(au.AuthorID, au.Handle)
}

// shown is the top-list entry of a person, pseudonymised when hidden.
func (au *SessionAuthor) shown(r *redact.Redactor, count uint64) Account {
	if au.hidden(r) {
		p := r.Pseudonym(au.AuthorID)
		return Account{ID: p, Handle: p, Count: count, Newcomer: au.Newcomer}
	}
	acc := Account{ID: au.AuthorID, Handle: au.Handle, Count: count, Newcomer: au.Newcomer, Why: au.Why, Segments: au.Segments}
	if r.All() {
		// A pseudonymised export: the person and their accounts under pseudonyms; why
		// they are linked names handles and sites, so it is left out.
		acc.ID, acc.Handle = r.Account(au.AuthorID, au.Handle)
		acc.Why = nil
	}
	if len(au.Members) > 1 {
		acc.Networks = au.Networks
		for _, m := range au.Members {
			acc.Accounts = append(acc.Accounts, r.ID(m.AuthorID))
		}
	}
	return acc
}

// PersonEdges maps an edge list onto people: weights of edges between the same people
// are summed, and a person's edges to themselves (one account replying to another of
// the same person) dropped.
func PersonEdges(edges []KindEdge, m *people.Mapping) []KindEdge {
	if m == nil || len(m.Linked()) == 0 {
		return edges
	}
	type key struct{ src, dst, kind string }
	index := map[key]int{}
	var out []KindEdge
	for _, e := range edges {
		k := key{m.Of(e.Src), m.Of(e.Dst), e.Kind}
		if k.src == k.dst {
			continue
		}
		if i, ok := index[k]; ok {
			out[i].Weight += e.Weight
			continue
		}
		index[k] = len(out)
		out = append(out, KindEdge{Src: k.src, Dst: k.dst, Kind: e.Kind, Weight: e.Weight})
	}
	return out
}

// querySegments reads the stored segments of some accounts of a community.
const querySegments = `
SELECT account_id, segments, reasons
FROM chatnight.account_segments FINAL
WHERE community = {community:String} AND account_id IN {accounts:Array(String)}`

// addSegments sets each author's segments: those of all their accounts, each segment
// once with the first reason found. Hidden people get none.
func (s *Store) addSegments(ctx context.Context, community string, authors map[string][]SessionAuthor, r *redact.Redactor) error {
	var ids []string
	seen := map[string]bool{}
	for _, list := range authors {
		for _, au := range list {
			for _, m := range au.Members {
				if !seen[m.AuthorID] {
					seen[m.AuthorID] = true
					ids = append(ids, m.AuthorID)
				}
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	rows, err := storage.SelectChunked[struct {
		AccountID string   `ch:"account_id"`
		Segments  []string `ch:"segments"`
		Reasons   []string `ch:"reasons"`
	}](ctx, s.conn, querySegments, clickhouse.Parameters{"community": community}, "accounts", ids, 5000)
	if err != nil {
		return fmt.Errorf("read segments: %w", err)
	}
	stored := map[string][]segments.Assignment{}
	for _, row := range rows {
		for j, seg := range row.Segments {
			reason := ""
			if j < len(row.Reasons) {
				reason = row.Reasons[j]
			}
			stored[row.AccountID] = append(stored[row.AccountID], segments.Assignment{Segment: seg, Reason: reason})
		}
	}
	for sid, list := range authors {
		for i := range list {
			au := &list[i]
			au.Segments = nil
			if au.hidden(r) {
				continue
			}
			have := map[string]bool{}
			for _, m := range au.Members {
				for _, as := range stored[m.AuthorID] {
					if !have[as.Segment] {
						have[as.Segment] = true
						au.Segments = append(au.Segments, as)
					}
				}
			}
		}
		authors[sid] = list
	}
	return nil
}

// segmentCounts counts, per segment, the people of authors holding it and their posts,
// in the order of the community's rules (segments no longer in the rules after them,
// by name).
func segmentCounts(authors []SessionAuthor, rules *segments.Rules) []SegmentCount {
	counts := map[string]*SegmentCount{}
	for _, au := range authors {
		for _, as := range au.Segments {
			c := counts[as.Segment]
			if c == nil {
				c = &SegmentCount{Segment: as.Segment, Label: rules.Label(as.Segment)}
				counts[as.Segment] = c
			}
			c.Participants++
			c.Posts += au.Posts
		}
	}
	out := []SegmentCount{}
	for _, name := range rules.Names() {
		if c, ok := counts[name]; ok {
			out = append(out, *c)
			delete(counts, name)
		}
	}
	var rest []string
	for name := range counts {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		out = append(out, *counts[name])
	}
	return out
}

// visible are the authors not hidden by r: segments are counted over them only.
func visible(authors []SessionAuthor, r *redact.Redactor) []SessionAuthor {
	if r.Empty() {
		return authors
	}
	var out []SessionAuthor
	for _, au := range authors {
		if !au.hidden(r) {
			out = append(out, au)
		}
	}
	return out
}

// AccountPerson is what the viewer shows beside an account: the person it belongs to
// (with the person's other accounts and why they are linked) and its segments.
type AccountPerson struct {
	AccountID string                `json:"account_id"`
	PersonID  string                `json:"person_id"`
	Accounts  []string              `json:"accounts,omitempty"` // the person's accounts in the session
	Networks  map[string]uint64     `json:"networks,omitempty"`
	Why       []string              `json:"why,omitempty"`
	Segments  []segments.Assignment `json:"segments,omitempty"`
	// Hidden: the person opted out on another account; PersonID is their pseudonym,
	// under which the stats count this account's posts too.
	Hidden bool `json:"hidden,omitempty"`
}

// SessionPeople lists, per account of sess, the person and segments of those who are
// linked or hold a segment. The accounts of a hidden person (one of whose accounts
// opted out) that did not opt out themselves are listed under the person's pseudonym,
// with nothing else; the opted-out accounts are not listed.
func (s *Store) SessionPeople(ctx context.Context, sess Session, r *redact.Redactor) ([]AccountPerson, error) {
	authors, _, err := s.personAuthors(ctx, []Session{sess}, nil)
	if err == nil {
		err = s.addSegments(ctx, sess.Community, authors, r)
	}
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	out := []AccountPerson{}
	for _, au := range authors[sess.ID] {
		if au.hidden(r) && len(au.Members) > 1 {
			ps := r.Pseudonym(au.AuthorID)
			for _, m := range au.Members {
				if !r.Hidden(m.AuthorID, m.Handle) {
					out = append(out, AccountPerson{AccountID: m.AuthorID, PersonID: ps, Hidden: true})
				}
			}
			continue
		}
		if au.hidden(r) || len(au.Members) < 2 && len(au.Segments) == 0 {
			continue
		}
		shown := au.shown(r, au.Posts)
		for _, m := range au.Members {
			out = append(out, AccountPerson{AccountID: m.AuthorID, PersonID: au.AuthorID, Accounts: shown.Accounts,
				Networks: shown.Networks, Why: au.Why, Segments: au.Segments})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccountID < out[j].AccountID })
	return out, nil
}
