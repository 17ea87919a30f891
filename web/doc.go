// Package web serves chatnight's page, its JSON API and the live websocket.
//
//	GET /                          the page (embedded assets, no build step)
//	GET /host?community=ID[&session=ID]   the host console (questions, waiting posts, first-timers)
//	GET /assets/...                its CSS and JavaScript modules
//	GET /healthz                   the process is up
//	GET /readyz                    NATS connected and ClickHouse answering (503 naming what is down)
//	GET /metrics                   Prometheus metrics of Deps.Gatherer
//	GET /api/...                   JSON read from ClickHouse (see package api)
//	GET /ws?community=ID[&session=ID][&since=SEQ]   live posts (see package hub)
//
// Every response carries security headers; the Content-Security-Policy allows no
// inline script or style.
//
// Below web: hub (websocket fan-out of live.<community>), api (REST), store (the
// viewer's queries), stats (session and community analytics), network (graph
// metrics), export (transcript and graph formats), optout and redact (the opt-out
// list and how every reader applies it), static (the page).
//
// Imports: web packages read what the pipeline stored and announced: pipeline/storage
// rows, pipeline/live events, pipeline/community, pipeline/sessions (the session
// rules), pipeline/post, pipeline/bus and pipeline/backoff. They never import ingest,
// pipeline/processor or pipeline/derive, and nothing below cmd imports web.
package web
