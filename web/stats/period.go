package stats

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
	Session
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
	Growth   *float64        `json:"growth"`
	Regulars []Regular       `json:"regulars"`
	Segments []SegmentCount  `json:"segments"` // people of the period per segment
	Network  network.Metrics `json:"network"`
}

// RegularShare is the share of a period's sessions an account must attend (and at
// least two) to be a regular.
const RegularShare = 0.5

// CommunityStats computes the analytics of community's sessions that started in
// [from, to), at most MaxPeriodSessions of them. r may be nil.
func (a *Analyzer) CommunityStats(ctx context.Context, community string, from, to time.Time, r *redact.Redactor) (*CommunityStats, error) {
	out := &CommunityStats{Community: community, From: from.UTC(), To: to.UTC(), Series: []SessionPoint{}, Regulars: []Regular{}, Segments: []SegmentCount{},
		Network: network.Metrics{PerNode: []network.NodeMetrics{}}}
	att, err := a.Attendance(ctx, community, from, to)
	if err != nil {
		return nil, err
	}
	n := att.Period
	if n == 0 {
		return out, nil
	}
	// The sessions of the period and up to four after it, for retention.
	known, counts, authors := att.Sessions, att.Counts, att.Authors
	if err := a.addSegments(ctx, community, authors, r); err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	sets := make([]map[string]bool, len(known))
	for i, s := range known {
		sets[i] = map[string]bool{}
		for _, au := range authors[s.ID] {
			sets[i][au.AuthorID] = true
		}
	}
	period := known[:n]
	out.Sessions = n
	type regular struct {
		handle   string
		sessions int
		posts    uint64
	}
	regs := map[string]*regular{}
	unique := map[string]bool{}
	periodAuthors := map[string]*SessionAuthor{} // person -> posts and segments over the period
	for i, s := range period {
		pt := SessionPoint{Session: s, Counts: counts[s.ID]}
		if size := len(sets[i]); size > 0 {
			if i+1 < len(known) {
				pt.RetentionNext = ptr(share(sets[i], sets[i+1:i+2]))
			}
			if i+4 < len(known) {
				pt.RetentionNext4 = ptr(share(sets[i], sets[i+1:i+5]))
			}
		}
		if i > 0 && out.Series[i-1].Participants > 0 {
			prev := float64(out.Series[i-1].Participants)
			pt.Growth = ptr((float64(pt.Participants) - prev) / prev)
		}
		out.Series = append(out.Series, pt)
		out.Posts += pt.Posts
		out.Newcomers += pt.Newcomers
		for _, au := range authors[s.ID] {
			unique[au.AuthorID] = true
			if pa := periodAuthors[au.AuthorID]; pa != nil {
				pa.Posts += au.Posts
			} else if !au.hidden(r) {
				periodAuthors[au.AuthorID] = &SessionAuthor{AuthorID: au.AuthorID, Posts: au.Posts, Segments: au.Segments}
			}
			rg := regs[au.AuthorID]
			if rg == nil {
				rg = &regular{}
				regs[au.AuthorID] = rg
			}
			rg.handle = au.Handle
			rg.sessions++
			rg.posts += au.Posts
		}
	}
	out.Participants = uint64(len(unique))
	if first, last := out.Series[0].Participants, out.Series[n-1].Participants; n > 1 && first > 0 {
		out.Growth = ptr((float64(last) - float64(first)) / float64(first))
	}
	need := max(2, int(float64(n)*RegularShare+0.999999))
	for id, rg := range regs {
		if rg.sessions < need {
			continue
		}
		rid, h := r.Account(id, rg.handle)
		out.Regulars = append(out.Regulars, Regular{ID: rid, Handle: h, Sessions: rg.sessions, Posts: rg.posts,
			Share: float64(rg.sessions) / float64(n)})
	}
	sort.Slice(out.Regulars, func(i, j int) bool {
		x, y := out.Regulars[i], out.Regulars[j]
		if x.Sessions != y.Sessions {
			return x.Sessions > y.Sessions
		}
		if x.Posts != y.Posts {
			return x.Posts > y.Posts
		}
		return x.ID < y.ID
	})
	var segmented []SessionAuthor
	for _, pa := range periodAuthors {
		segmented = append(segmented, *pa)
	}
	out.Segments = segmentCounts(segmented, a.rules(community))
	edges, err := a.Edges(ctx, period)
	if err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	out.Network = NetworkMetrics(edges, a.top(), r)
	return out, nil
}

// share is the fraction of set seen in any of later.
func share(set map[string]bool, later []map[string]bool) float64 {
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
