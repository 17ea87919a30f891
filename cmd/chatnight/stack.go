package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/embedded"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/schema"
)

// stack is what a subcommand connects to: NATS and ClickHouse, embedded or real, and
// the metrics registry. close releases them in reverse order.
type stack struct {
	log     *slog.Logger
	reg     *prometheus.Registry
	nc      *nats.Conn
	js      jetstream.JetStream
	ch      driver.Conn
	chDSN   string
	dataDir string // set when an embedded service keeps its data there
	natsSrv *embedded.Server
	closers []func()
	writerM *storage.WriterMetrics // shared by every writer of the stack
}

// jetStreamHealth says why the embedded JetStream stores nothing, or nil (also without one).
func (s *stack) jetStreamHealth() error {
	if s.natsSrv == nil {
		return nil
	}
	return s.natsSrv.Health()
}

func newStack(log *slog.Logger) *stack {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &stack{log: log, reg: reg}
}

// newWriter returns a ClickHouse writer counted in the stack's registry. All writers of
// a process share one set of writer metrics.
func (s *stack) newWriter() (*storage.Writer, error) {
	if s.writerM == nil {
		m, err := storage.NewWriterMetrics(s.reg)
		if err != nil {
			return nil, err
		}
		s.writerM = m
	}
	return storage.NewWriter(s.ch, s.writerM), nil
}

func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// connectNATS uses o.NATSURL, or starts the embedded server when it is empty and
// embedded is allowed, then makes sure the streams exist.
func (s *stack) connectNATS(ctx context.Context, o *Options, embeddedOK bool, name string) error {
	url := o.NATSURL
	var extra []nats.Option
	if url == "" && embeddedOK {
		srv, err := embedded.Start(embedded.Options{DataDir: o.DataDir, Listen: o.NATSListen})
		if err != nil {
			return err
		}
		s.closers = append(s.closers, srv.Shutdown)
		s.dataDir, s.natsSrv = o.DataDir, srv
		url = srv.ClientURL()
		extra = append(extra, srv.InProcess())
		s.log.Info("embedded NATS started", "url", url, "store", o.DataDir+"/nats")
	} else if url == "" {
		url = bus.DefaultURL
	}
	nc, js, err := bus.Connect(ctx, url, name, extra...)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func() { _ = nc.Drain() })
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{Replicas: o.NATSReplicas}); err != nil {
		return err
	}
	s.nc, s.js = nc, js
	return nil
}

// connectClickHouse uses o.ClickHouseDSN, or starts the embedded engine when it is
// empty, and applies the schema.
func (s *stack) connectClickHouse(ctx context.Context, o *Options) error {
	dsn, err := withLocalCredentials(o.ClickHouseDSN, o)
	if err != nil {
		return err
	}
	if dsn == "" {
		dsn, err = s.startEmbeddedClickHouse(ctx, o)
		if err != nil {
			return err
		}
	}
	conn, err := storage.Open(ctx, dsn)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func() { _ = conn.Close() })
	applied, err := schema.Migrate(ctx, conn)
	if err != nil {
		return fmt.Errorf("apply schema: %w", err)
	}
	if len(applied) > 0 {
		s.log.Info("schema migrated", "applied", applied)
	}
	s.ch, s.chDSN = conn, dsn
	return nil
}
