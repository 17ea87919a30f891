package readmodel

import (
	"context"
	"fmt"
	"sort"
	"strconv"
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
// the per-session aggregates: the posts table is not read.
func (s *Store) CommunityStats(ctx context.Context, community string, from, to time.Time, r *redact.Redactor) (*CommunityStats, error) {
	out := &CommunityStats{Community: community, From: from.UTC(), To: to.UTC(), Series: []SessionPoint{}, Regulars: []Regular{},
		Segments: []SegmentCount{}, Network: network.Metrics{PerNode: []network.NodeMetrics{}}}
	all, err := s.list(ctx, querySessionsFrom, params{"community": community, "from": chTime(from),
		"limit": strconv.Itoa(MaxPeriodSessions + Later)}, false)
	if err != nil {
		return nil, fmt.Errorf("read sessions of %s: %w", community, err)
	}
	n := 0
	for n < len(all) && all[n].Start.Before(to) && n < MaxPeriodSessions {
		n++
	}
	if n == 0 {
		return out, nil
	}
	// The sessions of the period and up to four after it, for retention.
	known := all[:min(len(all), n+4)]
	counts, err := s.counts(ctx, known)
	if err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	var series []struct {
		SessionID string   `ch:"session_id"`
		Newcomers uint64   `ch:"newcomers"`
		Reach     uint64   `ch:"reach"`
		Authors   []uint64 `ch:"authors"`
	}
	if err := s.conn.Select(s.ctx(ctx, sessionParams(known)), &series, querySeriesAuthors); err != nil {
		return nil, fmt.Errorf("community %s: read the authors of its sessions: %w", community, err)
	}
	sets := make(map[string]map[uint64]bool, len(series))
	for _, row := range series {
		set := make(map[uint64]bool, len(row.Authors))
		for _, a := range row.Authors {
			set[a] = true
		}
		sets[row.SessionID] = set
		c := counts[row.SessionID]
		c.Newcomers, c.PotentialReach = row.Newcomers, row.Reach
		c.Returning = c.Participants - c.Newcomers
		counts[row.SessionID] = c
	}
	period := known[:n]
	out.Sessions = n
	// The people of each session (the read model's authors mapped onto people in one
	// place, personAuthors), their segments, and, when accounts are linked, the
	// series, totals and regulars counted per person.
	authors, m, err := s.personAuthors(ctx, known, nil)
	if err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	if err := s.addSegments(ctx, community, authors, r); err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	linked := m != nil && len(m.Linked()) > 0
	if linked {
		num := map[string]uint64{}
		for _, sess := range known {
			set := map[uint64]bool{}
			for _, au := range authors[sess.ID] {
				if _, ok := num[au.AuthorID]; !ok {
					num[au.AuthorID] = uint64(len(num)) + 1
				}
				set[num[au.AuthorID]] = true
			}
			sets[sess.ID] = set
			counts[sess.ID] = counts[sess.ID].withPeople(authors[sess.ID])
		}
	}
	periodAuthors := map[string]*SessionAuthor{} // person -> posts and segments over the period
	var order []string
	for _, sess := range period {
		for _, au := range authors[sess.ID] {
			if pa := periodAuthors[au.AuthorID]; pa != nil {
				pa.Posts += au.Posts
				pa.Members = append(pa.Members, au.Members...)
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
		c := counts[sess.ID]
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
			if i+4 < len(known) {
				pt.RetentionNext4 = ptr(share(set, later(4)))
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
	pp := sessionParams(period)
	if linked {
		out.Participants = uint64(len(periodAuthors))
	} else if err := s.conn.QueryRow(s.ctx(ctx, pp), queryPeriodParticipants).Scan(&out.Participants); err != nil {
		return nil, fmt.Errorf("community %s: count participants: %w", community, err)
	}
	if first, last := out.Series[0].Participants, out.Series[n-1].Participants; n > 1 && first > 0 {
		out.Growth = ptr((float64(last) - float64(first)) / float64(first))
	}
	need := max(2, int(float64(n)*RegularShare+0.999999))
	var regs []struct {
		AuthorID string `ch:"author_id"`
		Handle   string `ch:"handle"`
		Sessions uint64 `ch:"sessions"`
		Posts    uint64 `ch:"posts"`
	}
	if linked {
		regs = regs[:0]
		attended := map[string]uint64{}
		for _, sess := range period {
			for _, au := range authors[sess.ID] {
				attended[au.AuthorID]++
			}
		}
		for _, id := range order {
			if pa := periodAuthors[id]; attended[id] >= uint64(need) {
				regs = append(regs, struct {
					AuthorID string `ch:"author_id"`
					Handle   string `ch:"handle"`
					Sessions uint64 `ch:"sessions"`
					Posts    uint64 `ch:"posts"`
				}{id, pa.Handle, attended[id], pa.Posts})
			}
		}
		sort.Slice(regs, func(i, j int) bool {
			x, y := regs[i], regs[j]
			if x.Sessions != y.Sessions {
				return x.Sessions > y.Sessions
			}
			if x.Posts != y.Posts {
				return x.Posts > y.Posts
			}
			return x.AuthorID < y.AuthorID
		})
	} else if err := s.conn.Select(s.ctx(ctx, pp.with("need", strconv.Itoa(need))), &regs, queryRegulars); err != nil {
		return nil, fmt.Errorf("community %s: regulars: %w", community, err)
	}
	for _, rg := range regs {
		rid, h := r.Account(rg.AuthorID, rg.Handle)
		if pa := periodAuthors[rg.AuthorID]; pa != nil && pa.hidden(r) {
			rid = r.Pseudonym(rg.AuthorID)
			h = rid
		}
		out.Regulars = append(out.Regulars, Regular{ID: rid, Handle: h, Sessions: int(rg.Sessions), Posts: rg.Posts,
			Share: float64(rg.Sessions) / float64(n)})
	}
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
