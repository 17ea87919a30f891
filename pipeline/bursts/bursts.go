// Package bursts stores detected sessions when posts are written, so that nothing
// resolves them when read.
//
// Posts outside every scheduled slot carry their cell as session_id (package
// sessions). After a batch is written, Place groups the community's cells into bursts
// by the rule of sessions.GroupCells, over the first and last post of each cell
// (chatnight.session_spans, kept by a materialized view), and records for each burst
// that touches the batch:
//
//   - a chatnight.detected_cells row per cell naming its session, and
//   - a chatnight.bursts row for the session (first and last post).
//
// A session is named after its first cell (sessions.Survivor), so it keeps its id as
// it grows forward, and the names do not depend on the order posts arrived in. When a
// late post bridges two stored sessions (or extends one backwards into an earlier
// cell), the absorbed one gets a newer bursts row with merged_into set to the
// survivor, and its cells newer detected_cells rows; its old id still resolves. Rows are versioned by the time
// of placing and read with FINAL.
//
// Several processors may place at once, each after its own write: the last to place
// sees every write before it, so the newest rows describe all stored posts (the same
// argument as the processor's thread reconciliation).
package bursts

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// Statements of the placing, one place each.
const (
	// queryCellSpans is when the first and last posts of the cells of a community
	// between two cells are (cell ids sort by time).
	queryCellSpans = `
SELECT session_id, min(first_at) AS first_at, max(last_at) AS last_at
FROM chatnight.session_spans
WHERE community = {community:String} AND startsWith(session_id, {prefix:String})
  AND session_id >= {from:String} AND session_id <= {to:String}
GROUP BY session_id`

	// queryPlaced is the session each of some cells is recorded in, and that session's
	// stored row.
	queryPlaced = `
SELECT c.cell AS cell, c.session_id AS session_id, b.start AS start, b.` + "`end`" + ` AS ` + "`end`" + `,
       b.merged_into AS merged_into
FROM (SELECT cell, session_id FROM chatnight.detected_cells FINAL
      WHERE community = {community:String} AND cell IN {cells:Array(String)}) AS c
LEFT JOIN (SELECT id, start, ` + "`end`" + `, merged_into FROM chatnight.bursts FINAL
      WHERE community = {community:String}) AS b ON b.id = c.session_id`
)

// Placer records detected sessions through one writer.
type Placer struct {
	w    *storage.Writer
	conn driver.Conn
	now  func() time.Time
}

// New places through w.
func New(w *storage.Writer) *Placer { return &Placer{w: w, conn: w.Conn(), now: time.Now} }

type placed struct {
	Cell       string    `ch:"cell"`
	SessionID  string    `ch:"session_id"`
	Start      time.Time `ch:"start"`
	End        time.Time `ch:"end"`
	MergedInto string    `ch:"merged_into"`
}

// Place records the detected sessions of the cells b's posts were written with. Call
// it after b is written; placing again is harmless.
func (p *Placer) Place(ctx context.Context, b *storage.Batch) error {
	type key struct{ community, cell string }
	gaps := map[string]time.Duration{}
	touched := map[key]bool{}
	spans := map[string][2]time.Time{} // community -> first and last touched cell's start
	for _, s := range b.Sessions {
		if s.Kind != sessions.KindCell {
			continue
		}
		gaps[s.Community] = s.End.Sub(s.Start)
		touched[key{s.Community, s.ID}] = true
		sp, ok := spans[s.Community]
		if !ok || s.Start.Before(sp[0]) {
			sp[0] = s.Start
		}
		if !ok || s.Start.After(sp[1]) {
			sp[1] = s.Start
		}
		spans[s.Community] = sp
	}
	communities := make([]string, 0, len(gaps))
	for c := range gaps {
		communities = append(communities, c)
	}
	sort.Strings(communities)
	version := uint64(p.now().UnixNano())
	for _, c := range communities {
		if err := p.placeCommunity(ctx, c, gaps[c], spans[c], func(cell string) bool { return touched[key{c, cell}] }, version); err != nil {
			return fmt.Errorf("place detected sessions of %s: %w", c, err)
		}
	}
	return nil
}

// firstWindow is how far around the batch's cells placing first reads other cells;
// it doubles while a burst of the batch reaches the edge of what was read.
const firstWindow = 24 * time.Hour

// bursts returns the bursts of community that contain a touched cell, reading the
// cells around first..last (the starts of the touched cells) until each such burst
// ends inside what was read.
func (p *Placer) bursts(ctx context.Context, community string, gap time.Duration, first, last time.Time, touched func(string) bool) ([]sessions.Burst, error) {
	for w := firstWindow; ; w *= 2 {
		from, to := first.Add(-w), last.Add(w)
		var spans []sessions.CellSpan
		q := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
			"community": community, "prefix": sessions.CellPrefix(community),
			"from": sessions.CellID(community, from), "to": sessions.CellID(community, to)}))
		if err := p.conn.Select(q, &spans, queryCellSpans); err != nil {
			return nil, fmt.Errorf("read cell spans: %w", err)
		}
		var mine []sessions.Burst
		open := false
		for _, bu := range sessions.GroupCells(spans, gap) {
			for _, c := range bu.Cells {
				if touched(c) {
					mine = append(mine, bu)
					// A cell outside what was read could still join this burst (one
					// before from ends before from+gap).
					open = open || bu.Start.Before(from.Add(2*gap)) || bu.End.After(to.Add(-gap))
					break
				}
			}
		}
		if !open || w > 20*365*24*time.Hour {
			return mine, nil
		}
	}
}

func (p *Placer) placeCommunity(ctx context.Context, community string, gap time.Duration, span [2]time.Time, touched func(string) bool, version uint64) error {
	mine, err := p.bursts(ctx, community, gap, span[0], span[1], touched)
	if err != nil {
		return err
	}
	var cells []string
	for _, bu := range mine {
		cells = append(cells, bu.Cells...)
	}
	if len(mine) == 0 {
		return nil
	}
	var rows []placed
	q := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"community": community, "cells": storage.ArrayParam(cells)}))
	if err := p.conn.Select(q, &rows, queryPlaced); err != nil {
		return fmt.Errorf("read placed cells: %w", err)
	}
	byCell := make(map[string]placed, len(rows))
	for _, r := range rows {
		byCell[r.Cell] = r
	}
	var cellRows []storage.DetectedCellRow
	var burstRows []storage.BurstRow
	for _, bu := range mine {
		id, merged := sessions.Survivor(bu, func(cell string) string { return byCell[cell].SessionID })
		var cur placed // the stored row of the session, through any cell recorded in it
		same := true
		for _, c := range bu.Cells {
			if byCell[c].SessionID != id {
				same = false
				cellRows = append(cellRows, storage.DetectedCellRow{Community: community, Cell: c, SessionID: id, Version: version})
			}
		}
		for _, c := range bu.Cells {
			if r := byCell[c]; r.SessionID == id {
				cur = r
				break
			}
		}
		if !same || cur.SessionID != id || !cur.Start.Equal(bu.Start) || !cur.End.Equal(bu.End) || cur.MergedInto != "" {
			burstRows = append(burstRows, storage.BurstRow{Community: community, ID: id, Start: bu.Start, End: bu.End, Version: version})
		}
		for _, old := range merged {
			burstRows = append(burstRows, storage.BurstRow{Community: community, ID: old, Start: bu.Start, End: bu.End, MergedInto: id, Version: version})
		}
	}
	return p.w.WriteDetected(ctx, cellRows, burstRows)
}

// WriteAndPlace writes b through w, then places its detected sessions: what the
// processor does with a batch, for tools and tests that write batches themselves.
func WriteAndPlace(ctx context.Context, w *storage.Writer, b *storage.Batch) error {
	if err := w.Write(ctx, b); err != nil {
		return err
	}
	return New(w).Place(ctx, b)
}

// Statements of re-placing after posts were removed (deletions), one place each.
const (
	// querySessionsOfCells is the session each of some cells is recorded in.
	querySessionsOfCells = `
SELECT cell, session_id FROM chatnight.detected_cells FINAL
WHERE community = {community:String} AND cell IN {cells:Array(String)}`

	// queryCellsOfSessions is every cell recorded in some sessions.
	queryCellsOfSessions = `
SELECT cell, session_id FROM chatnight.detected_cells FINAL
WHERE community = {community:String} AND session_id IN {sessions:Array(String)}`

	// queryCellSpansOf is when the first and last posts of some cells are.
	queryCellSpansOf = `
SELECT session_id, min(first_at) AS first_at, max(last_at) AS last_at
FROM chatnight.session_spans
WHERE community = {community:String} AND session_id IN {cells:Array(String)}
GROUP BY session_id`

	// deleteGoneCells and deleteGoneBursts forget detected sessions none of whose
	// posts remain, and the sessions they had absorbed.
	deleteGoneCells  = `DELETE FROM chatnight.detected_cells WHERE community = {community:String} AND session_id IN {sessions:Array(String)}`
	deleteGoneBursts = `DELETE FROM chatnight.bursts WHERE community = {community:String} AND (id IN {sessions:Array(String)} OR merged_into IN {sessions:Array(String)})`
)

// Replace places again the detected sessions that cells (stored session ids whose
// posts were removed: deletions) are recorded in, after session_spans was rebuilt
// without the removed posts. Removing posts only shrinks or splits a session, never
// joins two, so each recorded session is regrouped from its own cells alone:
//
//   - each part left is a session named after its first cell (a part that starts
//     later than before gets a new id, as Place would name it);
//   - the old id, when no part keeps it, is recorded as merged into the first part,
//     and so are its cells left empty, so links to it still resolve;
//   - a session none of whose posts remain is forgotten, with its cells.
//
// Cells that are not detected cells (scheduled sessions' ids) are ignored.
func (p *Placer) Replace(ctx context.Context, community string, gap time.Duration, cells []string) error {
	var own []string
	for _, c := range cells {
		if sessions.IsCellID(c) && strings.HasPrefix(c, sessions.CellPrefix(community)) {
			own = append(own, c)
		}
	}
	if len(own) == 0 {
		return nil
	}
	type recorded struct {
		Cell      string `ch:"cell"`
		SessionID string `ch:"session_id"`
	}
	var rec []recorded
	q := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"community": community, "cells": storage.ArrayParam(own)}))
	if err := p.conn.Select(q, &rec, querySessionsOfCells); err != nil {
		return fmt.Errorf("read the sessions of %s's cells: %w", community, err)
	}
	var ids []string
	seen := map[string]bool{}
	for _, r := range rec {
		if !seen[r.SessionID] {
			seen[r.SessionID] = true
			ids = append(ids, r.SessionID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	rec = rec[:0]
	q = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"community": community, "sessions": storage.ArrayParam(ids)}))
	if err := p.conn.Select(q, &rec, queryCellsOfSessions); err != nil {
		return fmt.Errorf("read the cells of %s's sessions: %w", community, err)
	}
	cellsOf := map[string][]string{}
	var all []string
	for _, r := range rec {
		cellsOf[r.SessionID] = append(cellsOf[r.SessionID], r.Cell)
		all = append(all, r.Cell)
	}
	var spans []sessions.CellSpan
	q = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"community": community, "cells": storage.ArrayParam(all)}))
	if err := p.conn.Select(q, &spans, queryCellSpansOf); err != nil {
		return fmt.Errorf("read the cell spans of %s: %w", community, err)
	}
	spanOf := make(map[string]sessions.CellSpan, len(spans))
	for _, s := range spans {
		spanOf[s.Cell] = s
	}
	version := uint64(p.now().UnixNano())
	var cellRows []storage.DetectedCellRow
	var burstRows []storage.BurstRow
	var gone []string
	for _, old := range ids {
		var left []sessions.CellSpan
		for _, c := range cellsOf[old] {
			if s, ok := spanOf[c]; ok {
				left = append(left, s)
			}
		}
		parts := sessions.GroupCells(left, gap)
		if len(parts) == 0 {
			gone = append(gone, old)
			continue
		}
		in := map[string]string{} // cell -> the part it is now in
		kept := false
		for _, bu := range parts {
			id := bu.Cells[0]
			kept = kept || id == old
			for _, c := range bu.Cells {
				in[c] = id
			}
			burstRows = append(burstRows, storage.BurstRow{Community: community, ID: id, Start: bu.Start, End: bu.End, Version: version})
		}
		first := parts[0]
		for _, c := range cellsOf[old] {
			to, ok := in[c]
			if !ok {
				to = first.Cells[0] // an emptied cell
			}
			if to != old {
				cellRows = append(cellRows, storage.DetectedCellRow{Community: community, Cell: c, SessionID: to, Version: version})
			}
		}
		if !kept {
			burstRows = append(burstRows, storage.BurstRow{Community: community, ID: old, Start: first.Start, End: first.End,
				MergedInto: first.Cells[0], Version: version})
		}
	}
	if err := p.w.WriteDetected(ctx, cellRows, burstRows); err != nil {
		return err
	}
	if len(gone) > 0 {
		q = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"community": community, "sessions": storage.ArrayParam(gone)}))
		for _, stmt := range []string{deleteGoneCells, deleteGoneBursts} {
			if err := p.conn.Exec(q, stmt); err != nil {
				return fmt.Errorf("forget %s's sessions without posts: %w", community, err)
			}
		}
	}
	return nil
}

// RemovePosts removes posts from every table (storage.RemovePosts) and places the
// detected sessions they were in again, each community by its session gap in cfg.
func RemovePosts(ctx context.Context, w *storage.Writer, cfg *community.Config, ids []string) ([]storage.Affected, error) {
	affected, err := storage.RemovePosts(ctx, w.Conn(), ids)
	if err != nil {
		return nil, err
	}
	p := New(w)
	for _, a := range affected {
		var cm *community.Community
		if cfg != nil {
			cm, _ = cfg.Lookup(a.Community)
		}
		if err := p.Replace(ctx, a.Community, sessions.Gap(cm), a.Sessions); err != nil {
			return nil, fmt.Errorf("place %s's detected sessions after deletions: %w", a.Community, err)
		}
	}
	return affected, nil
}
