package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage/chdb"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/endpoint"
)

// startEmbeddedClickHouse loads chDB with its data under the data dir and serves it as a
// ClickHouse HTTP endpoint, which the rest of the process (and curl, Grafana, another
// chatnight's `process` or `serve`) reaches with an ordinary DSN.
func (s *stack) startEmbeddedClickHouse(ctx context.Context, o *Options) (string, error) {
	dir := filepath.Join(o.DataDir, "clickhouse")
	s.dataDir = o.DataDir
	engine, err := chdb.Open(dir)
	if err != nil {
		return "", fmt.Errorf("embedded ClickHouse: %w", err)
	}
	s.closers = append(s.closers, func() { _ = engine.Close() })
	eo, err := o.EmbeddedCH.options(o.ClickHouseHTTPAddr, o.DataDir)
	if err != nil {
		return "", err
	}
	eo.Logger = s.log.With("component", "clickhouse-http")
	srv, err := endpoint.NewServer(engine, eo)
	if err != nil {
		return "", fmt.Errorf("embedded ClickHouse endpoint: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return "", err
	}
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	s.log.Info("embedded ClickHouse started", "http", "http://"+srv.Addr()+"/", "data", dir,
		"user", eo.User, "read_only_user", eo.ReadOnlyUser, "admin_access", eo.AdminAccess)
	// The process's own connection: the only one that may run migrations' DDL.
	return eo.ProcessDSN(srv.Addr(), "default"), nil
}
