package api

import (
	"context"
	"net/http"

	"github.com/chatnight/chatnight/web/export"
	"github.com/chatnight/chatnight/web/readmodel"
)

// handleGraph answers GET /api/sessions/{id}/graph[?format=json|gexf|graphml]: nodes
// (authors and the accounts they interacted with), edges weighted per kind (reply,
// mention, quote, repost) and, in JSON, the network metrics. GEXF 1.3 and GraphML
// merge the kinds into one weighted edge per pair, with the per-kind weights and the
// node metrics as attributes, for Gephi. Opted-out accounts appear under their
// pseudonym.
func (a *API) handleGraph(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	f, ok := format(w, r, "json", "gexf", "graphml")
	if !ok {
		return
	}
	an, ok := a.analyzerFor(w, r)
	if !ok {
		return
	}
	red, m, ok := a.exportOf(ctx, w, r, sess)
	if !ok {
		return
	}
	g, err := a.store.Graph(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if g, err = peopleGraph(ctx, an, g); err != nil {
		a.fail(w, r, err)
		return
	}
	resp, edges := graphOf(g, red)
	eg := exportGraph(sess.Community+" "+sess.ID, resp, edges)
	eg.Manifest = m
	switch f {
	case "gexf":
		attachment(w, "application/gexf+xml", sess.ID+".gexf")
		err = export.WriteGEXF(w, eg, a.now())
	case "graphml":
		attachment(w, "application/graphml+xml", sess.ID+".graphml")
		err = export.WriteGraphML(w, eg)
	default:
		resp.Manifest = m
		writeJSON(w, resp)
	}
	if err != nil {
		a.log.Warn("writing graph failed", "session", sess.ID, "err", err)
	}
}

// peopleGraph merges the nodes of each person's accounts into one (posts and what they
// received summed, the handle of the account with the most posts) and their edges,
// through the analyzer's mapping (none per account). Unless the graph spans several
// networks and linked accounts, it is unchanged.
func peopleGraph(ctx context.Context, an *readmodel.Store, g readmodel.Graph) (readmodel.Graph, error) {
	if an == nil || an.PerAccount || len(g.Nodes) == 0 {
		return g, nil
	}
	ids := make([]string, len(g.Nodes))
	for i, n := range g.Nodes {
		ids[i] = n.ID
	}
	m, err := an.Mapping(ctx, ids)
	if err != nil || len(m.Linked()) == 0 {
		return g, err
	}
	out := readmodel.Graph{Nodes: []readmodel.Node{}}
	index := map[string]int{}
	for _, n := range g.Nodes {
		pid := m.Of(n.ID)
		i, ok := index[pid]
		if !ok {
			index[pid] = len(out.Nodes)
			n.ID = pid
			out.Nodes = append(out.Nodes, n)
			continue
		}
		o := &out.Nodes[i]
		if n.Posts > o.Posts {
			o.Handle = n.Handle
		}
		o.Posts += n.Posts
		o.RepliesReceived += n.RepliesReceived
		o.MentionsReceived += n.MentionsReceived
		o.IsHost = o.IsHost || n.IsHost
	}
	edges := make([]readmodel.KindEdge, len(g.Edges))
	for i, e := range g.Edges {
		edges[i] = readmodel.KindEdge{Src: e.Src, Dst: e.Dst, Kind: e.Kind, Weight: e.Weight}
	}
	for _, e := range readmodel.PersonEdges(edges, m) {
		out.Edges = append(out.Edges, readmodel.Edge{Src: e.Src, Dst: e.Dst, Kind: e.Kind, Weight: e.Weight})
	}
	if out.Edges == nil {
		out.Edges = []readmodel.Edge{}
	}
	return out, nil
}
