// Package completeness says what a session's collection may have missed, per source:
// the windows with no data (reconnects, outages, rate-limit waits, pages cut short),
// the counts of everything else on record (dead letters, replays, instances polled and
// failing, invalid archive records), and, where the data allows, an estimate of the
// share of posts missed. It reads chatnight.completeness_events, which ingestors fill
// through the processors (package steward).
package completeness

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/steward"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// Method says how EstimatedMissingShare is estimated.
const Method = "posts per minute of the source in the covered part of the session, times the minutes " +
	"missing, assuming the rate held during the gap: share = estimated / (collected + estimated). " +
	"No estimate when the source collected nothing in the session or nothing of it was covered."

// Window is a span of time, with why data is missing in it (missing windows only).
type Window struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Kind   string    `json:"kind,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Source is what one source collected in the session and what it may have missed.
type Source struct {
	Source         string            `json:"source"`
	Posts          uint64            `json:"posts"`
	Covered        []Window          `json:"covered"`
	Missing        []Window          `json:"missing"`
	MissingSeconds float64           `json:"missing_seconds"`
	Counts         map[string]uint64 `json:"counts"` // events by kind (a dead letter counts its records)
	// EstimatedMissingPosts and EstimatedMissingShare follow Method; nil when no
	// estimate can be made.
	EstimatedMissingPosts *float64 `json:"estimated_missing_posts"`
	EstimatedMissingShare *float64 `json:"estimated_missing_share"`
}

// Report is the completeness of one session.
type Report struct {
	Session   string    `json:"session"`
	Community string    `json:"community"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Sources   []Source  `json:"sources"`
	Method    string    `json:"method"`
}

// Statements, with bound parameters only.
const (
	// queryEvents reads the events of a community (and those of every community, '')
	// that touch [from, to].
	queryEvents = `
SELECT toString(source) AS source, from_at, to_at, toString(kind) AS kind, detail, count
FROM chatnight.completeness_events FINAL
WHERE community IN ('', {community:String}) AND from_at <= {to:DateTime64(3, 'UTC')} AND to_at >= {from:DateTime64(3, 'UTC')}
ORDER BY from_at, source, kind`

	// queryPostsBySource counts a session's posts by the network they came from.
	queryPostsBySource = `
SELECT toString(source) AS source, count() AS posts
FROM chatnight.posts FINAL
WHERE community = {community:String} AND session_id IN {cells:Array(String)}
GROUP BY source`
)

// Session identifies what to report on.
type Session struct {
	ID, Community string
	Start, End    time.Time
	Cells         []string // the stored session ids of its posts (its own id, or a detected session's cells)
	Sources       []string // the sources the community follows (reported even when nothing happened)
}

// Of computes the report of a session.
func Of(ctx context.Context, conn driver.Conn, s Session) (*Report, error) {
	from, to := s.Start.UTC(), s.End.UTC()
	cells := s.Cells
	if len(cells) == 0 {
		cells = []string{s.ID}
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"community": s.Community, "cells": storage.ArrayParam(cells),
		"from": from.Format("2006-01-02 15:04:05.000"), "to": to.Format("2006-01-02 15:04:05.000"),
	}))
	var events []struct {
		Source string    `ch:"source"`
		From   time.Time `ch:"from_at"`
		To     time.Time `ch:"to_at"`
		Kind   string    `ch:"kind"`
		Detail string    `ch:"detail"`
		Count  uint64    `ch:"count"`
	}
	if err := conn.Select(ctx, &events, queryEvents); err != nil {
		return nil, fmt.Errorf("read completeness events: %w", err)
	}
	var counts []struct {
		Source string `ch:"source"`
		Posts  uint64 `ch:"posts"`
	}
	if err := conn.Select(ctx, &counts, queryPostsBySource); err != nil {
		return nil, fmt.Errorf("count posts by source: %w", err)
	}
	by := map[string]*Source{}
	get := func(name string) *Source {
		if by[name] == nil {
			by[name] = &Source{Source: name, Counts: map[string]uint64{}, Covered: []Window{}, Missing: []Window{}}
		}
		return by[name]
	}
	for _, name := range s.Sources {
		get(name)
	}
	for _, c := range counts {
		get(c.Source).Posts = c.Posts
	}
	for _, e := range events {
		src := get(e.Source)
		n := e.Count
		if n == 0 {
			n = 1
		}
		src.Counts[e.Kind] += n
		if steward.Gaps[e.Kind] && e.To.After(e.From) {
			src.Missing = append(src.Missing, Window{From: maxTime(e.From.UTC(), from), To: minTime(e.To.UTC(), to), Kind: e.Kind, Detail: e.Detail})
		}
	}
	r := &Report{Session: s.ID, Community: s.Community, From: from, To: to, Method: Method, Sources: []Source{}}
	for _, src := range by {
		src.Missing = merge(src.Missing)
		src.Covered = complement(from, to, src.Missing)
		for _, m := range src.Missing {
			src.MissingSeconds += m.To.Sub(m.From).Seconds()
		}
		estimate(src)
		r.Sources = append(r.Sources, *src)
	}
	sort.Slice(r.Sources, func(i, j int) bool { return r.Sources[i].Source < r.Sources[j].Source })
	return r, nil
}

// estimate fills the estimated missing posts and share (see Method).
func estimate(s *Source) {
	covered := 0.0
	for _, c := range s.Covered {
		covered += c.To.Sub(c.From).Seconds()
	}
	switch {
	case s.MissingSeconds == 0:
		zero := 0.0
		s.EstimatedMissingPosts, s.EstimatedMissingShare = &zero, &zero
	case s.Posts == 0 || covered <= 0:
		// Nothing to take a rate from.
	default:
		est := float64(s.Posts) / covered * s.MissingSeconds
		share := est / (float64(s.Posts) + est)
		est, share = round(est, 1), round(share, 4)
		s.EstimatedMissingPosts, s.EstimatedMissingShare = &est, &share
	}
}

func round(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

// merge sorts windows and joins overlapping ones (their kinds and details joined).
func merge(ws []Window) []Window {
	sort.Slice(ws, func(i, j int) bool { return ws[i].From.Before(ws[j].From) })
	var out []Window
	for _, w := range ws {
		if n := len(out); n > 0 && !w.From.After(out[n-1].To) {
			last := &out[n-1]
			if w.To.After(last.To) {
				last.To = w.To
			}
			if !strings.Contains(last.Kind, w.Kind) {
				last.Kind += "," + w.Kind
			}
			if w.Detail != "" && !strings.Contains(last.Detail, w.Detail) {
				last.Detail = strings.TrimPrefix(last.Detail+"; "+w.Detail, "; ")
			}
			continue
		}
		out = append(out, w)
	}
	if out == nil {
		out = []Window{}
	}
	return out
}

// complement is [from, to] without the (merged, clipped) missing windows.
func complement(from, to time.Time, missing []Window) []Window {
	out := []Window{}
	at := from
	for _, m := range missing {
		if m.From.After(at) {
			out = append(out, Window{From: at, To: m.From})
		}
		if m.To.After(at) {
			at = m.To
		}
	}
	if to.After(at) {
		out = append(out, Window{From: at, To: to})
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Summary is the report in one line per source with anything missing or on record,
// for the headers of transcripts and reports: "bluesky: no data 01:41–01:43 UTC
// (reconnect); 2 dead letters". Empty when nothing was missed.
func (r *Report) Summary() []string {
	var out []string
	for _, s := range r.Sources {
		var parts []string
		for _, m := range s.Missing {
			parts = append(parts, fmt.Sprintf("no data %s–%s UTC (%s)", m.From.Format("15:04"), m.To.Format("15:04"), strings.ReplaceAll(m.Kind, "_", " ")))
		}
		kinds := make([]string, 0, len(s.Counts))
		for k := range s.Counts {
			if !steward.Gaps[k] {
				kinds = append(kinds, k)
			}
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%d %s", s.Counts[k], strings.ReplaceAll(k, "_", " ")))
		}
		if len(parts) == 0 {
			continue
		}
		line := s.Source + ": " + strings.Join(parts, "; ")
		if s.EstimatedMissingShare != nil && *s.EstimatedMissingShare > 0 {
			line += fmt.Sprintf(" (about %.1f%% of its posts missed)", *s.EstimatedMissingShare*100)
		}
		out = append(out, line)
	}
	return out
}
