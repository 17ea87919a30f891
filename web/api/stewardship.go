package api

import (
	"context"
	"net/http"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/schema"
	"github.com/chatnight/chatnight/web/completeness"
	"github.com/chatnight/chatnight/web/export"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// handleCompleteness answers GET /api/sessions/{id}/completeness: per source, the
// covered and missing windows of the session, the counts of events on record and an
// estimated share of posts missed (see completeness.Method).
func (a *API) handleCompleteness(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) {
	rep, err := a.completeness(ctx, sess)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, rep)
}

func (a *API) completeness(ctx context.Context, sess readmodel.Session) (*completeness.Report, error) {
	var sources []string
	if cm, ok := a.communities.Lookup(sess.Community); ok {
		sources = cm.Sources
	}
	return completeness.Of(ctx, a.conn, completeness.Session{ID: sess.ID, Community: sess.Community, Start: sess.Start, End: sess.End,
		Cells: sess.Cells, Sources: sources})
}

// pseudonymize says whether an export asked for ?pseudonymize=1.
func pseudonymize(r *http.Request) bool {
	switch r.URL.Query().Get("pseudonymize") {
	case "1", "true", "yes":
		return true
	}
	return false
}

// exportOf is what an export handler needs besides its data: the redactor
// (exportRedactor) and the manifest, answering any error itself (ok false).
func (a *API) exportOf(ctx context.Context, w http.ResponseWriter, r *http.Request, sess readmodel.Session) (*redact.Redactor, *export.Manifest, bool) {
	red, pseudo, err := a.exportRedactor(ctx, r, sess)
	if err != nil {
		a.fail(w, r, err)
		return nil, nil, false
	}
	m, err := a.manifest(ctx, sess, pseudo)
	if err != nil {
		a.fail(w, r, err)
		return nil, nil, false
	}
	return red, m, true
}

// exportRedactor is the redactor of an export: the community's opt-outs and, with
// ?pseudonymize=1, every account pseudonymized; the session's accounts (authors and
// mentioned) name the handles that @mentions in text refer to.
func (a *API) exportRedactor(ctx context.Context, r *http.Request, sess readmodel.Session) (*redact.Redactor, bool, error) {
	red, err := a.redactor(ctx, sess.Community)
	if err != nil || !pseudonymize(r) {
		return red, false, err
	}
	g, err := a.store.Graph(ctx, sess)
	if err != nil {
		return nil, false, err
	}
	accounts := make(map[string]string, len(g.Nodes))
	for _, n := range g.Nodes {
		if n.Handle != "" {
			accounts[n.Handle] = n.ID
		}
	}
	return red.Pseudonymize(accounts), true, nil
}

// manifest is the manifest of an export of sess.
func (a *API) manifest(ctx context.Context, sess readmodel.Session, pseudonymized bool) (*export.Manifest, error) {
	rep, err := a.completeness(ctx, sess)
	if err != nil {
		return nil, err
	}
	removed, purged, err := storage.DeletionCounts(ctx, a.conn)
	if err != nil {
		return nil, err
	}
	optedOut, byConsent := a.optoutCounts(sess.Community)
	return BuildManifest(a.Version, sess.Community, sess.ID, sess.Start, sess.End, a.communities, rep, optedOut, byConsent,
		pseudonymized, removed, purged, a.now()), nil
}

// optoutCounts are the opted-out accounts applied to a community's exports.
func (a *API) optoutCounts(communityID string) (optedOut, byConsent int) {
	if a.optouts == nil {
		return 0, 0
	}
	c := a.optouts.Counts()
	byConsent = c.NoIndex
	if cm, ok := a.communities.Lookup(communityID); ok && cm.Consent == community.ConsentStrict {
		byConsent += c.NotIndexable
	}
	return c.OptedOut, byConsent
}

// BuildManifest assembles a manifest (the API's exports and `chatnight report`).
func BuildManifest(version, communityID, session string, from, to time.Time, cfg *community.Config, rep *completeness.Report,
	optedOut, byConsent int, pseudonymized bool, removed, purged uint64, now time.Time) *export.Manifest {
	m := &export.Manifest{
		Generator: "chatnight " + version, SchemaVersion: schemaVersion(), GeneratedAt: now.UTC().Truncate(time.Second),
		Community: communityID, Session: session, Window: export.Window{From: from.UTC(), To: to.UTC()},
		Sources: []string{}, CompletenessSummary: rep.Summary(), Completeness: rep,
		Privacy:   export.Privacy{OptedOut: optedOut, ConsentOptedOut: byConsent, ConsentRule: export.ConsentDefault, Pseudonymized: pseudonymized, Pseudonyms: export.PseudonymsOpt},
		Deletions: export.Deletions{Removed: removed, Purged: purged},
	}
	if m.CompletenessSummary == nil {
		m.CompletenessSummary = []string{}
	}
	for _, s := range rep.Sources {
		m.Sources = append(m.Sources, s.Source)
	}
	if cm, ok := cfg.Lookup(communityID); ok && cm.Consent == community.ConsentStrict {
		m.Privacy.ConsentRule = export.ConsentStrict
	}
	if pseudonymized {
		m.Privacy.Pseudonyms = export.PseudonymsAll
	}
	return m
}

// schemaVersion is the newest migration this binary carries.
func schemaVersion() uint32 {
	ms, err := schema.Migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}
