package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/web/export"
	"github.com/chatnight/chatnight/web/host"
	"github.com/chatnight/chatnight/web/network"
	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// EnableAnalytics serves the analytics endpoints, the host console and the welcome
// figures through conn, and applies the opt-out list o (nil: nobody is hidden) to
// every endpoint and the viewer's backfill.
func (a *API) EnableAnalytics(conn driver.Conn, o *optout.OptOuts) {
	a.analytics = true
	a.store.UseConfig(a.communities)
	a.conn = conn
	a.host = host.New(conn, a.store)
	a.optouts = o
}

// analysisOf is what an analytics handler needs besides its session: the analyzer
// (?people=) and the community's opt-out list, answering any error itself (ok false).
func (a *API) analysisOf(ctx context.Context, w http.ResponseWriter, r *http.Request, community string) (*readmodel.Store, *redact.Redactor, bool) {
	an, ok := a.analyzerFor(w, r)
	if !ok {
		return nil, nil, false
	}
	red, err := a.redactor(ctx, community)
	if err != nil {
		a.fail(w, r, err)
		return nil, nil, false
	}
	return an, red, true
}

// analyzerFor is the analyzer of a request: it counts people, or accounts with
// ?people=accounts. ok is false (and a 400 answered) for any other value.
func (a *API) analyzerFor(w http.ResponseWriter, r *http.Request) (*readmodel.Store, bool) {
	switch r.URL.Query().Get("people") {
	case "", "people":
		return a.store, true
	case "accounts":
		return a.store.Accounts(), true
	}
	writeError(w, http.StatusBadRequest, "people must be people (link accounts into people) or accounts (one participant per account)")
	return nil, false
}

// redactor is the opt-out list to apply to a response about a community (nil hides
// nothing): the community's consent rule decides which consent signals count.
func (a *API) redactor(ctx context.Context, community string) (*redact.Redactor, error) {
	if a.optouts == nil {
		return nil, nil
	}
	r, err := a.optouts.Get(ctx)
	return r.For(community), err
}

// redactPosts drops the posts of opted-out authors and pseudonymizes the accounts the
// others refer to.
func redactPosts(posts []readmodel.Post, r *redact.Redactor) []readmodel.Post {
	if r.Empty() {
		return posts
	}
	out := posts[:0:0]
	for _, p := range posts {
		if r.Post(&p.Post) {
			p.QuestionID = r.PostID(p.QuestionID)
			out = append(out, p)
		}
	}
	return out
}

func redactParticipants(list []readmodel.Participant, r *redact.Redactor) {
	for i := range list {
		p := &list[i]
		// A person is hidden when any of their accounts opted out.
		switch {
		case len(p.Accounts) > 1 && slices.ContainsFunc(p.Accounts, func(a string) bool { return r.Hidden(a, "") }) || len(p.Accounts) > 1 && r.Hidden("", p.Handle):
			ps := r.Pseudonym(p.AuthorID) // the person's, as the stats name them
			p.AuthorID, p.Handle, p.Name, p.Accounts = ps, ps, "", nil
		case r.Hidden(p.AuthorID, p.Handle):
			p.AuthorID, p.Handle = r.Account(p.AuthorID, p.Handle)
			p.Name = ""
		}
	}
}

// GraphResponse is the JSON of /api/sessions/{id}/graph: the viewer's nodes and edges
// and the network metrics of the session.
type GraphResponse struct {
	readmodel.Graph
	Metrics  network.Metrics  `json:"metrics"`
	Manifest *export.Manifest `json:"manifest,omitempty"`
}

// graphOf adds metrics to g and pseudonymizes opted-out nodes (their interactions
// stay, under the pseudonym).
func graphOf(g readmodel.Graph, r *redact.Redactor) (GraphResponse, []readmodel.KindEdge) {
	edges := make([]readmodel.KindEdge, len(g.Edges))
	for i, e := range g.Edges {
		edges[i] = readmodel.KindEdge{Src: e.Src, Dst: e.Dst, Kind: e.Kind, Weight: e.Weight}
	}
	out := GraphResponse{Graph: readmodel.Graph{Nodes: make([]readmodel.Node, len(g.Nodes)), Edges: make([]readmodel.Edge, len(g.Edges))}}
	out.Metrics = readmodel.NetworkMetrics(edges, 0, r)
	for i, n := range g.Nodes {
		n.ID, n.Handle = r.Account(n.ID, n.Handle)
		out.Nodes[i] = n
	}
	for i, e := range g.Edges {
		e.Src, e.Dst = r.ID(e.Src), r.ID(e.Dst)
		out.Edges[i] = e
		edges[i].Src, edges[i].Dst = e.Src, e.Dst
	}
	return out, edges
}

// exportGraph is the graph of a GEXF or GraphML export.
func exportGraph(title string, g GraphResponse, edges []readmodel.KindEdge) export.ExportGraph {
	metrics := map[string]network.NodeMetrics{}
	for _, m := range g.Metrics.PerNode {
		metrics[m.ID] = m
	}
	out := export.ExportGraph{Title: title, Edges: export.MergeKinds(edges)}
	for _, n := range g.Nodes {
		m := metrics[n.ID]
		out.Nodes = append(out.Nodes, export.ExportNode{ID: n.ID, Label: n.Handle, Posts: n.Posts, IsHost: n.IsHost,
			PageRank: m.PageRank, Betweenness: m.Betweenness, Community: m.Community, InDegree: m.InDegree, OutDegree: m.OutDegree})
	}
	return out
}

// format reads ?format=, answering 400 itself when it is not one of allowed.
func format(w http.ResponseWriter, r *http.Request, allowed ...string) (string, bool) {
	f := r.URL.Query().Get("format")
	if f == "" {
		return allowed[0], true
	}
	for _, a := range allowed {
		if f == a {
			return f, true
		}
	}
	writeError(w, http.StatusBadRequest, "format must be one of "+strings.Join(allowed, ", "))
	return "", false
}

func attachment(w http.ResponseWriter, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
}

// ownTags are the community's hashtags, normalized, left out of co-occurring ones.
func (a *API) ownTags(communityID string) []string {
	cm, ok := a.communities.Lookup(communityID)
	if !ok {
		return []string{}
	}
	out := []string{}
	for _, t := range cm.Hashtags {
		out = append(out, post.NormalizeTag(t))
	}
	return out
}

// handleSessionStats answers GET /api/sessions/{id}/readmodel.
func (a *API) handleSessionStats(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	an, red, ok := a.analysisOf(ctx, w, r, sess.Community)
	if !ok {
		return
	}
	st, err := an.SessionStats(ctx, sess, a.ownTags(sess.Community), red)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cm, _ := a.communities.Lookup(sess.Community)
	wel, _, err := a.host.SessionWelcome(ctx, cm, sess, red)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, SessionStats{SessionStats: st, Welcome: wel})
}

// handleCommunityStats answers GET /api/communities/{id}/stats?from=&to= (RFC 3339 or
// 2006-01-02; default the last 90 days).
func (a *API) handleCommunityStats(w http.ResponseWriter, r *http.Request) {
	// Analytics switched off answers 400 before an unknown community's 404.
	an, ok := a.analyzerFor(w, r)
	if !ok {
		return
	}
	a.forCommunityPeriod(func(ctx context.Context, w http.ResponseWriter, r *http.Request, cm *community.Community,
		from, to time.Time, red *redact.Redactor) {
		st, err := an.CommunityStats(ctx, cm.ID, from, to, red)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, st)
	})(w, r)
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02", s)
}

// handleTranscript answers GET /api/sessions/{id}/transcript?format=json|csv|md|html.
func (a *API) handleTranscript(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	f, ok := format(w, r, "json", "csv", "md", "html")
	if !ok {
		return
	}
	red, m, ok := a.exportOf(ctx, w, r, sess)
	if !ok {
		return
	}
	t, err := a.transcriptWith(ctx, sess, red)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if f == "json" {
		t.Manifest = m
		writeJSON(w, t)
		return
	}
	posts := t.Posts
	lines := make([]export.Line, len(posts))
	for i, p := range posts {
		var marks []string
		for _, m := range p.Marks {
			marks = append(marks, fmt.Sprintf("%c%d", strings.ToUpper(m.Kind[:1])[0], m.Number))
		}
		sort.Strings(marks)
		lines[i] = export.Line{ID: p.ID, CreatedAt: p.CreatedAt, Kind: p.Kind, AuthorID: p.AuthorID, Handle: p.AuthorHandle,
			Name: p.AuthorName, Marks: strings.Join(marks, " "), ReplyToID: p.ReplyToID, Text: p.Text, URL: p.URL,
			Copies: t.Copies[p.ID]}
	}
	types := map[string]string{"csv": "text/csv; charset=utf-8", "md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}
	attachment(w, types[f], sess.ID+"."+f)
	if err := export.WriteTranscript(w, f, sess, lines, m); err != nil {
		a.log.Warn("writing transcript failed", "session", sess.ID, "err", err)
	}
}

// handleSessionPeople answers GET /api/sessions/{id}/people: the session's participants
// who are linked people or hold segments, by account, for the viewer's badges.
func (a *API) handleSessionPeople(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	an, red, ok := a.analysisOf(ctx, w, r, sess.Community)
	if !ok {
		return
	}
	list, err := an.SessionPeople(ctx, sess, red)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, list)
}
