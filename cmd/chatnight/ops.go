package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// listen opens the HTTP listener before anything runs, so a taken port fails the start
// with a message instead of killing a running process later.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w (is another chatnight running? choose another address with --http-addr)", addr, err)
	}
	return ln, nil
}

// serveOps serves /metrics, /healthz and /readyz for the tiers that have no web UI
// (`process`, `ingest`), until ctx is done.
func (s *stack) serveOps(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ops server: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("ops server shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ready reports whether the services this process uses answer.
func (s *stack) ready(ctx context.Context) error {
	if s.nc != nil && s.nc.Status() != nats.CONNECTED {
		return fmt.Errorf("nats: %s", s.nc.Status())
	}
	if err := s.jetStreamHealth(); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if s.js != nil {
		if err := bus.StreamsReady(ctx, s.js); err != nil {
			return err
		}
	}
	if s.dataDir != "" {
		if err := storage.CheckFree(s.dataDir, storage.MinFree); err != nil {
			return err
		}
	}
	if s.ch != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := s.ch.Ping(ctx); err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
	}
	return nil
}
