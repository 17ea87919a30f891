package web_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/goleak"

	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/web"
)

// ch is the ClickHouse every test of this package shares: chDB runs one engine per
// process. Tests keep apart by using community ids of their own.
var ch driver.Conn

// TestMain runs the tests against the shared engine, stops it, then fails the package
// when a server, hub or client goroutine a test started is still running.
func TestMain(m *testing.M) {
	code := runTests(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: goroutines left after the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func runTests(m *testing.M) int {
	env, err := chdbtest.Open()
	if err != nil {
		// No skipping: without the library these tests fail, saying how to get it.
		fmt.Fprintln(os.Stderr, "FAIL: the web tests need the embedded ClickHouse (run `make setup`):", err)
		return 1
	}
	ch = env.Conn
	return chdbtest.Main(m)
}

// communities returns a configuration with one community, id, hosted by "host" on sim.
func communities(t testing.TB, id string) *community.Config {
	t.Helper()
	cfg, err := community.Parse("test", fmt.Appendf(nil, `
communities:
  - id: %s
    name: "#%s test chat"
    hashtags: [%s]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
    hosts:
      sim: [host]
`, id, id, id))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type testServer struct {
	srv  *web.Server
	url  string // http://127.0.0.1:port
	bus  *bustest.Env
	cfg  *community.Config
	stop func()
}

// startServer runs a web server for cfg on a random loopback port.
func startServer(t testing.TB, cfg *community.Config, now func() time.Time) *testServer {
	t.Helper()
	return startServerWith(t, web.Config{Now: now}, cfg)
}

// startServerWith is startServer with a web configuration of the test's own.
func startServerWith(t testing.TB, webCfg web.Config, cfg *community.Config) *testServer {
	t.Helper()
	env := bustest.Start(t)
	srv, err := web.New(webCfg, web.Deps{Communities: cfg, JS: env.JS, NC: env.NC, CH: ch})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ts := &testServer{srv: srv, url: "http://" + ln.Addr().String(), bus: env, cfg: cfg}
	ts.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(ts.stop)
	return ts
}
