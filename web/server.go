package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/api"
	"github.com/chatnight/chatnight/web/hub"
	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/static"
)

// Config is the web tier's configuration; zero values take the defaults.
type Config struct {
	// Addr is where Run listens (--http-addr); default ":8080".
	Addr string
	// AllowedOrigins may open websockets besides the page's own host
	// (scheme://host[:port], or "*").
	AllowedOrigins []string
	// MaxConnsPerIP bounds the websockets of one remote address; default 32, <0 unlimited.
	MaxConnsPerIP int
	// ShutdownTimeout bounds the graceful shutdown; default 10s.
	ShutdownTimeout time.Duration
	// WS tunes the websocket hub (AllowedOrigins and MaxConnsPerIP above win).
	WS hub.Options
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// DataDir, when set (embedded NATS or ClickHouse keep their data there), makes
	// /readyz report a nearly full disk before writes start failing.
	DataDir string
	// SourcesOff are the live sources left out for a missing secret (name: why).
	// /readyz lists them; the tier is still ready, since the other sources run.
	SourcesOff map[string]string
	// Version names the software in export manifests.
	Version string
	// AllowedHosts are host names (no port) the server answers to besides localhost,
	// 127.0.0.1, ::1, the listen host and the hosts of AllowedOrigins. Listening on loopback,
	// any other Host header is refused (DNS rebinding); listening beyond loopback (behind
	// a proxy, scraped by service name) the check applies only when AllowedHosts is set.
	AllowedHosts []string
}

// Deps are what the web tier talks to.
type Deps struct {
	Communities *community.Config
	JS          jetstream.JetStream
	NC          *nats.Conn
	CH          driver.Conn
	// Gatherer serves /metrics and Registerer gets the web metrics; when both are nil
	// the server uses a registry of its own.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// JetStreamHealth, when set, says why an embedded JetStream stores nothing (its disk
	// full), for /readyz; a connected client and an answering stream do not show that.
	JetStreamHealth func() error
}

// Server is the web tier.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	store   *readmodel.Store
	api     *api.API
	hub     *hub.Hub
	optouts *optout.OptOuts
	handler http.Handler

	runOnce sync.Once
}

// New checks cfg and deps and builds the server; nothing runs until Run or Serve.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case deps.Communities == nil || len(deps.Communities.Communities) == 0:
		return nil, errors.New("web: no communities configured")
	case deps.JS == nil:
		return nil, errors.New("web: JetStream is required")
	case deps.CH == nil:
		return nil, errors.New("web: a ClickHouse connection is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Gatherer == nil && deps.Registerer == nil {
		reg := prometheus.NewRegistry()
		deps.Gatherer, deps.Registerer = reg, reg
	}
	metrics, err := hub.NewMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Log}
	s.store = readmodel.New(deps.CH)
	s.api = api.New(s.store, deps.Communities, cfg.Now, deps.Log)
	s.optouts = optout.NewOptOuts(deps.CH, deps.Log)
	s.optouts.Strict = deps.Communities.StrictConsent()
	s.api.EnableAnalytics(deps.CH, s.optouts)
	if cfg.Version != "" {
		s.api.Version = cfg.Version
	}

	ws := cfg.WS
	ws.AllowedOrigins = append(append([]string(nil), ws.AllowedOrigins...), cfg.AllowedOrigins...)
	if cfg.MaxConnsPerIP != 0 {
		ws.MaxConnsPerIP = cfg.MaxConnsPerIP
	}
	ws.Now = cfg.Now
	ws.Redact = func(events []live.Event) []live.Event { return s.optouts.Cached().Events(events) }
	// Live posts of a detected session's later cells are sent under the session's id,
	// the one the backfill and the API use, so the page shows them as one session.
	ws.Resolve = readmodel.NewResolver(s.store, 2*time.Second, deps.Log).SessionOf
	// Live posts say who their authors are, so the page's leaderboard counts people.
	livePeople := readmodel.NewPeopleResolver(s.store, 2*time.Second, deps.Log)
	ws.People = func(ctx context.Context, community string, accounts []string) map[string]*live.Person {
		return livePeople.People(ctx, community, accounts, s.optouts.Cached())
	}
	s.hub, err = hub.New(deps.Communities.IDs(), deps.JS, s.api, metrics, deps.Log, ws)
	if err != nil {
		return nil, err
	}
	// Open pages drop an account's posts as soon as it opts out.
	s.optouts.OnChange = s.hub.NotifyOptOuts
	s.handler = s.routes()
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	if s.deps.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}))
	}
	mux.Handle("GET /ws", s.hub)
	s.api.Register(mux)

	assets, _ := fs.Sub(static.FS, "assets")
	files := http.StripPrefix("/assets/", http.FileServerFS(assets))
	mux.Handle("GET /assets/", noCache(files))
	mux.Handle("GET /{$}", page("index.html"))
	mux.Handle("GET /host", page("host.html"))
	return securityHeaders(s.checkHost(mux))
}

// page serves an embedded HTML page.
func page(name string) http.Handler {
	body, err := static.FS.ReadFile(name)
	if err != nil {
		panic("web: " + name + " is not embedded: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(body)
	})
}

// checkHost refuses requests for a host name the server does not know: a page on another
// site whose name was rebound to 127.0.0.1 could otherwise script the API and the websocket
// under its own origin.
func (s *Server) checkHost(next http.Handler) http.Handler {
	names := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	host, _, err := net.SplitHostPort(s.cfg.Addr)
	loopback := false
	if err == nil {
		host = strings.ToLower(strings.Trim(host, "[]"))
		ip := net.ParseIP(host)
		loopback = host == "localhost" || ip != nil && ip.IsLoopback()
		names[host] = true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if u, err := url.Parse(o); err == nil && u.Hostname() != "" {
			names[strings.ToLower(u.Hostname())] = true
		}
	}
	for _, h := range s.cfg.AllowedHosts {
		names[strings.ToLower(strings.Trim(strings.TrimSpace(h), "[]"))] = true
	}
	if !loopback && len(s.cfg.AllowedHosts) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if !names[strings.ToLower(strings.Trim(h, "[]"))] {
			s.log.Warn("refused a request for an unknown host (DNS rebinding?)", "host", r.Host, "path", r.URL.Path)
			http.Error(w, "unknown host "+strconv.Quote(r.Host)+": open the viewer as http://localhost or http://127.0.0.1, or add the name with --allowed-hosts", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows only the page's own scripts, styles and connections.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		next.ServeHTTP(w, r)
	})
}

func noCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) jetStreamHealth(ctx context.Context) error {
	if s.deps.JetStreamHealth != nil {
		if err := s.deps.JetStreamHealth(); err != nil {
			return err
		}
	}
	return bus.StreamsReady(ctx, s.deps.JS)
}

// handleReady answers 200 when NATS is connected and ClickHouse answers a ping, else
// 503; the body says which is down.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	status := map[string]string{"nats": "ok", "clickhouse": "ok"}
	ready := true
	if s.deps.NC == nil || !s.deps.NC.IsConnected() {
		ready = false
		state := "no connection"
		if s.deps.NC != nil {
			state = s.deps.NC.Status().String()
		}
		status["nats"] = "down: " + state
	} else if err := s.jetStreamHealth(r.Context()); err != nil {
		// Connected, but JetStream does not answer for the stream (out of disk space, say).
		ready = false
		status["nats"] = "down: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		ready = false
		status["clickhouse"] = "down: " + err.Error()
	}
	if s.cfg.DataDir != "" {
		status["disk"] = "ok"
		if err := storage.CheckFree(s.cfg.DataDir, storage.MinFree); err != nil {
			ready = false
			status["disk"] = err.Error()
		}
	}
	for name, why := range s.cfg.SourcesOff {
		status["source "+name] = why
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(status)
}

// Handler returns the HTTP handler. Websockets are served only while Run or Serve runs
// (until then /ws answers 503).
func (s *Server) Handler() http.Handler { return s.handler }

// DisconnectClients closes every websocket with code 1012 (service restart); pages
// reconnect and resume. For operations and tests.
func (s *Server) DisconnectClients() {
	s.hub.DisconnectAll(1012, "server asked viewers to reconnect")
}

// Run listens on Config.Addr and serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w (is another process using it? choose another address with --http-addr)", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends: websockets are closed with 1001, requests in
// flight get Config.ShutdownTimeout to finish. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	first := false
	s.runOnce.Do(func() { first = true })
	if !first {
		ln.Close()
		return errors.New("web: Serve or Run called twice")
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	defer stopHub()
	// The opt-out list is read before the first viewer connects, then kept fresh for
	// the live feed.
	loadCtx, cancelLoad := context.WithTimeout(ctx, 10*time.Second)
	if _, err := s.optouts.Load(loadCtx); err != nil {
		s.log.Warn("reading the opt-out list failed; retrying in the background", "err", err)
	}
	cancelLoad()
	optoutsDone := make(chan struct{})
	go func() { defer close(optoutsDone); s.optouts.Run(hubCtx) }()
	defer func() { stopHub(); <-optoutsDone }()
	hubDone := make(chan error, 1)
	go func() { hubDone <- s.hub.Run(hubCtx) }()
	<-s.hub.Started()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("web listening", "addr", ln.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		served <- err
		err = fmt.Errorf("web: serve on %s: %w", ln.Addr(), err)
	}
	stopHub()
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil && err == nil {
		err = fmt.Errorf("web: shutdown: %w", serr)
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("web: serve on %s: %w", ln.Addr(), serr)
	}
	<-hubDone
	s.log.Info("web stopped")
	return err
}
