package readmodel

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/chatnight/chatnight/web/network"
	"github.com/chatnight/chatnight/web/redact"
)

// SessionPoint is one session of a community series.
type SessionPoint struct {
	// The session (its counts are Counts).
	ID        string    `json:"id"`
	Community string    `json:"community"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Kind      string    `json:"kind"`
	Cells     []string  `json:"cells,omitempty"`
	Counts
	// RetentionNext is the share of this session's participants who posted in the
	// next session; RetentionNext4 in any of the next four. Null when those sessions
	// are not known yet.
	RetentionNext  *float64 `json:"retention_next"`
	RetentionNext4 *float64 `json:"retention_next4"`
	// Growth is the change in participants from the previous session of the series,
	// as a fraction of the previous (null for the first session).
	Growth *float64 `json:"growth"`
}

// Regular is an account that took part in many sessions of the period.
type Regular struct {
	ID       string  `json:"id"`
	Handle   string  `json:"handle"`
	Sessions int     `json:"sessions"`
	Posts    uint64  `json:"posts"`
	Share    float64 `json:"share"` // sessions attended / sessions of the period
}

// CommunityStats are a community's analytics over [From, To).
type CommunityStats struct {
	Community string         `json:"community"`
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Sessions  int            `json:"sessions"`
	Series    []SessionPoint `json:"series"` // oldest first
	// Totals over the period: posts, unique participants, newcomers to the community.
	Posts        uint64 `json:"posts"`
	Participants uint64 `json:"participants"`
	Newcomers    uint64 `json:"newcomers"`
	// Growth is the change in participants from the first to the last session.
	Growth   *float64  `json:"growth"`
	Regulars []Regular `json:"regulars"`
	// Segments are the people of the period per segment.
	Segments []SegmentCount `json:"segments"`
	// Network is the analysis of the period's heaviest interactions (at most
	// MaxPeriodEdges edges).
	Network network.Metrics `json:"network"`
}

// RegularShare is the share of a period's sessions an account must attend (and at
// least two) to be a regular.
const RegularShare = 0.5

// CommunityStats computes the analytics of community's sessions that started in
// [from, to), at most MaxPeriodSessions of them. r may be nil. Everything is read from
// the per-session aggregates, once, through Attendance: the series, totals, retention
// and regulars are all counted from its people, so they cannot disagree with a
// session's own stats (and the posts table is not read).
func (s *Store) CommunityStats(ctx context.Context, community string, from, to time.Time, r *redact.Redactor) (*CommunityStats, error) {
	out := &CommunityStats{Community: community, From: from.UTC(), To: to.UTC(), Series: []SessionPoint{}, Regulars: []Regular{},
		Segments: []SegmentCount{}, Network: network.Metrics{PerNode: []network.NodeMetrics{}}}
	att, err := s.Attendance(ctx, community, from, to)
	if err != nil {
		return nil, err
	}
	n := att.Period
	if n == 0 {
		return out, nil
	}
	known, authors := att.Sessions, att.Authors
	if err := s.addSegments(ctx, community, authors, r); err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	// Each session's people as a set of small numbers, for retention.
	num := map[string]uint64{}
	sets := make(map[string]map[uint64]bool, len(known))
	for _, sess := range known {
		set := make(map[uint64]bool, len(authors[sess.ID]))
		for _, au := range authors[sess.ID] {
			if _, ok := num[au.AuthorID]; !ok {
				num[au.AuthorID] = uint64(len(num)) + 1
			}
			set[num[au.AuthorID]] = true
		}
		sets[sess.ID] = set
	}
	period := known[:n]
	out.Sessions = n
	periodAuthors := map[string]*SessionAuthor{} // person -> posts and segments over the period
	attended := map[string]int{}                 // person -> sessions of the period
	var order []string
	for _, sess := range period {
		for _, au := range authors[sess.ID] {
			attended[au.AuthorID]++
			if pa := periodAuthors[au.AuthorID]; pa != nil {
				pa.Posts += au.Posts
				pa.Members = append(pa.Members, au.Members...)
				pa.Handle = au.Handle // the latest session's, as sessions come in time order
				continue
			}
			periodAuthors[au.AuthorID] = &SessionAuthor{AuthorID: au.AuthorID, Handle: au.Handle, Posts: au.Posts,
				Segments: au.Segments, Members: au.Members}
			order = append(order, au.AuthorID)
		}
	}
	var segmented []SessionAuthor
	for _, id := range order {
		if pa := periodAuthors[id]; !pa.hidden(r) {
			segmented = append(segmented, *pa)
		}
	}
	out.Segments = segmentCounts(segmented, s.rules(community))
	for i, sess := range period {
		c := att.Counts[sess.ID]
		pt := SessionPoint{ID: sess.ID, Community: sess.Community, Start: sess.Start, End: sess.End, Kind: sess.Kind,
			Cells: sess.Cells, Counts: c}
		if set := sets[sess.ID]; len(set) > 0 {
			later := func(k int) []map[uint64]bool {
				var out []map[uint64]bool
				for _, l := range known[i+1 : i+1+k] {
					out = append(out, sets[l.ID])
				}
				return out
			}
			if i+1 < len(known) {
				pt.RetentionNext = ptr(share(set, later(1)))
			}
			if i+Later < len(known) {
				pt.RetentionNext4 = ptr(share(set, later(Later)))
			}
		}
		if i > 0 && out.Series[i-1].Participants > 0 {
			prev := float64(out.Series[i-1].Participants)
			pt.Growth = ptr((float64(c.Participants) - prev) / prev)
		}
		out.Series = append(out.Series, pt)
		out.Posts += c.Posts
		out.Newcomers += c.Newcomers
	}
	out.Participants = uint64(len(periodAuthors))
	if first, last := out.Series[0].Participants, out.Series[n-1].Participants; n > 1 && first > 0 {
		out.Growth = ptr((float64(last) - float64(first)) / float64(first))
	}
	out.Regulars = regulars(order, periodAuthors, attended, n, r)
	edges, err := s.edges(ctx, period, MaxPeriodEdges)
	if err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	em, err := s.edgeMapping(ctx, edges)
	if err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	out.Network = NetworkMetrics(PersonEdges(edges, em), s.top(), r)
	return out, nil
}

// regulars are the people who took part in at least RegularShare of a period's n
// sessions (and at least two), most sessions first, then most posts; hidden people are
// shown by their pseudonym.
func regulars(order []string, byPerson map[string]*SessionAuthor, attended map[string]int, n int, r *redact.Redactor) []Regular {
	need := max(2, int(float64(n)*RegularShare+0.999999))
	out := []Regular{}
	var ids []string
	for _, id := range order {
		if attended[id] >= need {
			ids = append(ids, id)
		}
	}
	sort.SliceStable(ids, func(i, j int) bool {
		x, y := ids[i], ids[j]
		if attended[x] != attended[y] {
			return attended[x] > attended[y]
		}
		if byPerson[x].Posts != byPerson[y].Posts {
			return byPerson[x].Posts > byPerson[y].Posts
		}
		return x < y
	})
	for _, id := range ids {
		pa := byPerson[id]
		rid, h := r.Account(id, pa.Handle)
		if pa.hidden(r) {
			rid = r.Pseudonym(id)
			h = rid
		}
		out = append(out, Regular{ID: rid, Handle: h, Sessions: attended[id], Posts: pa.Posts,
			Share: float64(attended[id]) / float64(n)})
	}
	return out
}

// share is the fraction of set seen in any of later.
func share(set map[uint64]bool, later []map[uint64]bool) float64 {
	seen := 0
	for id := range set {
		for _, l := range later {
			if l[id] {
				seen++
				break
			}
		}
	}
	return float64(seen) / float64(len(set))
}

func ptr[T any](v T) *T { return &v }
