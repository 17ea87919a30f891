// Package sessions places posts in chat sessions.
//
// A community with a schedule meets in slots ("tuesday 20:30 America/New_York, 60m"). A
// post belongs to the scheduled session whose slot, widened by GraceBefore and
// GraceAfter, contains its created_at. The slot is found in its own time zone, so a
// 20:30 chat stays at 20:30 local time across daylight-saving changes. The session id is
// the community and the slot's UTC start: "hcldr-20261125T013000Z". Posts of a scheduled
// community outside every widened slot have no session ("").
//
// A community without a schedule has detected sessions: bursts of activity, a silence of
// at least the community's SessionGap ending one. A burst is only known once all its
// posts are, and posts arrive out of order and through several processes, while the
// session_id written with a post must never change (materialized views key on it). So
// the id stored with a post is its cell: the community's time line cut into cells of
// SessionGap length, aligned to the Unix epoch, "ehr-C20261126T140000Z". A cell never
// spans two bursts (two bursts are at least SessionGap apart, a cell is shorter than
// that), so bursts are unions of consecutive cells, and they are resolved when read:
// the chatnight.detected_sessions view (migration 0002) groups cells into bursts, and
// Detect is the same rule in Go. A detected session is named after its first cell.
package sessions

import (
	"sort"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// The grace windows around a scheduled slot. Chats start early (hosts post a welcome,
// participants introduce themselves) and run over (late answers, thank-yous). A post
// from GraceBefore before the slot's start to GraceAfter after its end belongs to the
// session. Changing them changes which session later posts get; posts already stored
// keep theirs.
const (
	GraceBefore = 15 * time.Minute
	GraceAfter  = 30 * time.Minute
)

// Session kinds, as stored in sessions.kind.
const (
	KindScheduled = "scheduled"
	KindDetected  = "detected" // a burst, resolved at read time (never written by the Deriver)
	KindCell      = "cell"     // one SessionGap-long cell of activity outside any scheduled slot
)

// idTime is the UTC time layout in session ids.
const idTime = "20060102T150405Z"

// Session is one chat session, or one cell of activity outside the schedule.
type Session struct {
	ID        string
	Community string
	Kind      string
	Start     time.Time // UTC; the slot start, or the cell start, or a burst's first post
	End       time.Time // UTC; the slot end (start + duration), the cell end, or a burst's last post
	Hosts     []string  // "network:@handle", sorted; scheduled sessions only
}

// Window is the span of post times that belong to a scheduled session: the slot widened
// by the grace windows. For other kinds it is [Start, End).
func (s *Session) Window() (from, to time.Time) {
	if s.Kind == KindScheduled {
		return s.Start.Add(-GraceBefore), s.End.Add(GraceAfter)
	}
	return s.Start, s.End
}

// Row is the sessions-table row of s.
func (s *Session) Row(version uint64) storage.SessionRow {
	hosts := s.Hosts
	if hosts == nil {
		hosts = []string{}
	}
	return storage.SessionRow{
		ID: s.ID, Community: s.Community, Start: s.Start, End: s.End,
		Kind: s.Kind, Hosts: hosts, Version: version,
	}
}

// ScheduledID is the id of the scheduled session of community starting at start.
func ScheduledID(communityID string, start time.Time) string {
	return communityID + "-" + start.UTC().Format(idTime)
}

// CellID is the id of the cell of community starting at start. Community ids are lower
// case, so the "-C" cannot be confused with a community id or a scheduled session id.
func CellID(communityID string, start time.Time) string {
	return communityID + "-C" + start.UTC().Format(idTime)
}

// IsCellID reports whether id names a cell rather than a scheduled session.
func IsCellID(id string) bool {
	if len(id) < len(idTime)+2 {
		return false
	}
	return strings.HasSuffix(id[:len(id)-len(idTime)], "-C")
}

// Gap is the silence that ends a detected session of cm.
func Gap(cm *community.Community) time.Duration {
	if cm == nil || cm.SessionGap <= 0 {
		return community.DefaultSessionGap
	}
	return cm.SessionGap
}

// At returns the session a post created at t belongs to: the scheduled session whose
// widened slot contains t, else t's cell, so activity outside the schedule (an
// impromptu chat, a demo) still forms detected sessions. When widened slots overlap, a
// slot that contains t itself wins over one whose grace window does; then the slot
// nearest to t; then the earlier slot.
func At(cm *community.Community, t time.Time) *Session {
	if s := Scheduled(cm, t); s != nil {
		return s
	}
	return Cell(cm, t)
}

// Scheduled returns the scheduled session whose widened slot contains t, or nil.
func Scheduled(cm *community.Community, t time.Time) *Session {
	t = t.UTC()
	var best *Session
	var bestDist time.Duration
	for i := range cm.Schedule {
		slot := &cm.Schedule[i]
		if slot.Location() == nil {
			continue // not parsed: community.Load/Parse was not used
		}
		start := slot.StartOnOrBefore(t.Add(GraceBefore)).UTC()
		end := start.Add(slot.Duration)
		if !t.Before(end.Add(GraceAfter)) {
			continue
		}
		var dist time.Duration
		switch {
		case t.Before(start):
			dist = start.Sub(t)
		case !t.Before(end):
			dist = t.Sub(end) + time.Nanosecond // just past the end is still outside the slot
		}
		if best == nil || dist < bestDist || (dist == bestDist && start.Before(best.Start)) {
			best = &Session{
				ID: ScheduledID(cm.ID, start), Community: cm.ID, Kind: KindScheduled,
				Start: start, End: end, Hosts: Hosts(cm),
			}
			bestDist = dist
		}
	}
	return best
}

// Cell returns the cell of cm that contains t.
func Cell(cm *community.Community, t time.Time) *Session {
	gap := Gap(cm)
	start := CellStart(t, gap)
	return &Session{ID: CellID(cm.ID, start), Community: cm.ID, Kind: KindCell, Start: start, End: start.Add(gap)}
}

// CellStart is the start of the gap-long cell that contains t, cells being aligned to
// the Unix epoch.
func CellStart(t time.Time, gap time.Duration) time.Time {
	g := gap.Milliseconds()
	if g <= 0 {
		g = community.DefaultSessionGap.Milliseconds()
	}
	ms := t.UnixMilli()
	r := ms % g
	if r < 0 {
		r += g
	}
	return time.UnixMilli(ms - r).UTC()
}

// Hosts lists the hosts of cm as "network:@handle", sorted.
func Hosts(cm *community.Community) []string {
	var hosts []string
	for network, handles := range cm.Hosts {
		for _, h := range handles {
			hosts = append(hosts, network+":@"+strings.TrimPrefix(h, "@"))
		}
	}
	sort.Strings(hosts)
	if hosts == nil {
		hosts = []string{}
	}
	return hosts
}

// Status is what the viewer and the API call "live now": latest (the stored session
// that started last) while it lasts, a scheduled one until its slot ends and a detected
// one until a silence of Gap(cm) after its last post; else the scheduled slot in
// progress at now, without grace windows, as a KindScheduled session with its ID (no row
// may exist yet); else nil. cur is latest itself when latest is current. next is the
// next scheduled start after now, zero without a schedule. Unlike Scheduled, which places
// posts, it does not count the grace windows: a chat is live from its start.
func Status(cm *community.Community, latest *Session, now time.Time) (cur *Session, next time.Time) {
	if latest != nil {
		end := latest.End
		if latest.Kind != KindScheduled {
			end = end.Add(Gap(cm))
		}
		if !latest.Start.After(now) && now.Before(end) {
			cur = latest
		}
	}
	for i := range cm.Schedule {
		slot := &cm.Schedule[i]
		if slot.Location() == nil {
			continue
		}
		start := slot.StartOnOrBefore(now)
		if end := start.Add(slot.Duration); cur == nil && now.Before(end) {
			cur = &Session{ID: ScheduledID(cm.ID, start), Community: cm.ID, Kind: KindScheduled, Start: start.UTC(), End: end.UTC()}
		}
		if n := slot.NextStartAfter(now).UTC(); next.IsZero() || n.Before(next) {
			next = n
		}
	}
	return cur, next
}

// Detect groups the times of off-schedule posts into detected sessions, the
// read-time rule of the detected_sessions view: times sorted, a silence of at least gap
// starts a new session. Each session is named after the cell of its first post; Start
// and End are its first and last post.
func Detect(communityID string, gap time.Duration, times []time.Time) []Session {
	if len(times) == 0 {
		return nil
	}
	ts := make([]time.Time, len(times))
	for i, t := range times {
		ts[i] = t.UTC()
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var out []Session
	for i, t := range ts {
		if i == 0 || t.Sub(ts[i-1]) >= gap {
			out = append(out, Session{
				ID: CellID(communityID, CellStart(t, gap)), Community: communityID,
				Kind: KindDetected, Start: t, End: t,
			})
			continue
		}
		out[len(out)-1].End = t
	}
	return out
}

// CellPrefix starts the id of every cell of community (CellID).
func CellPrefix(communityID string) string { return communityID + "-C" }

// CellSpan is when the first and last posts of a cell are.
type CellSpan struct {
	Cell    string    `ch:"session_id"`
	FirstAt time.Time `ch:"first_at"`
	LastAt  time.Time `ch:"last_at"`
}

// Burst is a detected session: a run of cells with no silence of the gap between
// them. Start and End are its first and last post.
type Burst struct {
	Cells      []string // in time order
	Start, End time.Time
}

// GroupCells groups cells into bursts, the rule of Detect over cells: sorted by first
// post, a cell whose first post comes at least gap after the previous cell's last post
// starts a new burst. A cell never spans two bursts, since it is shorter than gap.
func GroupCells(spans []CellSpan, gap time.Duration) []Burst {
	s := append([]CellSpan(nil), spans...)
	sort.Slice(s, func(i, j int) bool {
		if !s[i].FirstAt.Equal(s[j].FirstAt) {
			return s[i].FirstAt.Before(s[j].FirstAt)
		}
		return s[i].Cell < s[j].Cell
	})
	var out []Burst
	for i, c := range s {
		if i == 0 || c.FirstAt.Sub(out[len(out)-1].End) >= gap {
			out = append(out, Burst{Cells: []string{c.Cell}, Start: c.FirstAt.UTC(), End: c.LastAt.UTC()})
			continue
		}
		b := &out[len(out)-1]
		b.Cells = append(b.Cells, c.Cell)
		if c.LastAt.After(b.End) {
			b.End = c.LastAt.UTC()
		}
	}
	return out
}

// Survivor names burst b, given the session each of its cells is recorded in ("" for
// none yet): its first cell, the rule of Detect, so the name does not depend on the
// order posts arrived in. A session growing forward, as a live one does, keeps its
// id; merged are the other sessions recorded, which b absorbs (two bridged by a late
// post, or one that a late post extended backwards into an earlier cell).
func Survivor(b Burst, recorded func(cell string) string) (id string, merged []string) {
	id = b.Cells[0]
	seen := map[string]bool{id: true}
	for _, c := range b.Cells {
		if s := recorded(c); s != "" && !seen[s] {
			seen[s] = true
			merged = append(merged, s)
		}
	}
	sort.Strings(merged)
	return id, merged
}
