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
	g, err := a.store.Graph(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	red, err := a.redactor(ctx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp, edges := graphOf(g, red)
	switch f {
	case "gexf":
		attachment(w, "application/gexf+xml", sess.ID+".gexf")
		err = export.WriteGEXF(w, exportGraph(sess.Community+" "+sess.ID, resp, edges), a.now())
	case "graphml":
		attachment(w, "application/graphml+xml", sess.ID+".graphml")
		err = export.WriteGraphML(w, exportGraph(sess.Community+" "+sess.ID, resp, edges))
	default:
		writeJSON(w, resp)
	}
	if err != nil {
		a.log.Warn("writing graph failed", "session", sess.ID, "err", err)
	}
}
