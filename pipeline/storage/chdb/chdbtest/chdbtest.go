// Package chdbtest gives tests a real embedded ClickHouse: the chDB engine behind the
// HTTP endpoint on a random loopback port, with chatnight's schema applied. chDB runs
// one data directory per process, so the engine is started once per test binary and
// shared; each test should use its own community ids to stay apart.
//
// A missing libchdb makes the test fail with what to run, never skip: `make test`
// installs it.
package chdbtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/endpoint"
	"github.com/chatnight/chatnight/pipeline/storage/schema"
)

// Env is the shared embedded store.
type Env struct {
	Addr   string      // host:port of the HTTP endpoint
	DSN    string      // clickhouse-go DSN for it
	Conn   driver.Conn // a connection with the schema applied
	Engine *chdb.Conn
	Server *endpoint.Server
}

var (
	once   sync.Once
	shared *Env
	err    error
	dir    string
)

// Main runs the tests of a package and then stops the shared store and removes its
// data; call it from TestMain: os.Exit(chdbtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = shared.Server.Shutdown(ctx)
		cancel()
		_ = shared.Engine.Close()
	}
	if dir != "" && os.Getenv(keepEnv) == "" {
		os.RemoveAll(dir)
	}
	return code
}

// Start returns the shared store, starting it on first use. Its data lives in a
// temporary directory removed when the process exits cleanly, or in
// $CHATNIGHT_CHDBTEST_DIR, kept.
func Start(t testing.TB) *Env {
	t.Helper()
	return StartAt(t, math.MaxUint32)
}

// StartAt is Start with the migrations up to version last applied, for tests of
// upgrades (which apply the others themselves). The store is shared by the whole test
// binary, so a binary should start it one way only.
func StartAt(t testing.TB, last uint32) *Env {
	t.Helper()
	env, err := open(last)
	if err != nil {
		t.Fatalf("embedded ClickHouse: %v", err)
	}
	return env
}

// Open is Start for a TestMain that keeps the connection in a package variable, before
// any test runs; chdbtest.Main(m) still stops the store.
func Open() (*Env, error) { return open(math.MaxUint32) }

func open(last uint32) (*Env, error) {
	once.Do(func() { shared, err = start(last) })
	return shared, err
}

// keepEnv names a directory to keep the store in across runs instead of a temporary
// one: benchmarks that generate millions of rows reuse them (CHATNIGHT_CHDBTEST_DIR).
const keepEnv = "CHATNIGHT_CHDBTEST_DIR"

// logEnv names a file that receives the endpoint's log of every query and its elapsed
// time (CHATNIGHT_CHDBTEST_LOG).
const logEnv = "CHATNIGHT_CHDBTEST_LOG"

func start(last uint32) (*Env, error) {
	var err error
	if dir = os.Getenv(keepEnv); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	} else if dir, err = os.MkdirTemp("", "chatnight-chdbtest-"); err != nil {
		return nil, err
	}
	engine, err := chdb.Open(dir)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if name := os.Getenv(logEnv); name != "" {
		// Every statement with its time, to see where a benchmark's time goes.
		f, err := os.Create(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", logEnv, err)
		}
		quiet = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Tests connect as the process itself, which may also drop and truncate what they create.
	opts := endpoint.Options{Addr: "127.0.0.1:0", Password: endpoint.NewPassword(), ProcessPassword: endpoint.NewPassword(),
		TempDir: dir, Logger: quiet}
	srv, err := endpoint.NewServer(engine, opts)
	if err != nil {
		return nil, err
	}
	// Generous: a kept store (CHATNIGHT_CHDBTEST_DIR) of millions of rows may be upgraded.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := srv.Start(context.Background()); err != nil {
		return nil, err
	}
	dsn := opts.ProcessDSN(srv.Addr(), "default")
	conn, err := storage.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := schema.MigrateTo(ctx, conn, last); err != nil {
		return nil, err
	}
	return &Env{Addr: srv.Addr(), DSN: dsn, Conn: conn, Engine: engine, Server: srv}, nil
}
