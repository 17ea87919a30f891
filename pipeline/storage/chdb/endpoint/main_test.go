package endpoint

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/goleak"

	"github.com/chatnight/chatnight/pipeline/storage/chdb"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/persisttest"
)

const (
	testUser       = "chatnight"
	testPassword   = "s3cret"
	testROUser     = "reader"
	testROPassword = "r3ader"
	testProcUser   = "chatnight_process"
	testProcPass   = "pr0cess"
)

// env is the engine and server every test of this package shares: chDB runs one engine per
// process.
var env struct {
	dir  string
	conn *chdb.Conn
	srv  *Server
}

func TestMain(m *testing.M) {
	persisttest.Child(runHelper)
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// No skipping: without the library these tests fail, saying how to get it.
	if _, err := chdb.LibraryPath(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the endpoint tests need libchdb:", err)
		return 1
	}
	var err error
	if env.dir, err = os.MkdirTemp("", "endpoint-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(env.dir)
	if env.conn, err = chdb.Open(env.dir); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer env.conn.Close()
	env.srv, err = startServer(env.conn, testOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: shutdown:", err)
		return 1
	}
	rawHTTP.CloseIdleConnections()
	// Every goroutine the server started must be gone after Shutdown.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: goroutines left behind:", err)
		return 1
	}
	return code
}

func testOptions() Options {
	level := slog.LevelWarn
	if os.Getenv("ENDPOINT_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return Options{
		Addr:             "127.0.0.1:0",
		User:             testUser,
		Password:         testPassword,
		ReadOnlyUser:     testROUser,
		ReadOnlyPassword: testROPassword,
		ProcessPassword:  testProcPass,
		MaxExecutionTime: time.Minute,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

// startServer starts a server. Start returns with the listener bound, so the server takes
// requests from then on; one ping proves it.
func startServer(conn *chdb.Conn, opts Options) (*Server, error) {
	s, err := NewServer(conn, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Start(context.Background()); err != nil {
		s.handler.Close()
		return nil, err
	}
	resp, err := rawHTTP.Get("http://" + s.Addr() + "/ping")
	if err != nil {
		return nil, fmt.Errorf("ping the server on %s: %w", s.Addr(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ping the server on %s: %s", s.Addr(), resp.Status)
	}
	return s, nil
}

// rawHTTP is an HTTP client that leaves Accept-Encoding and decompression to the test.
var rawHTTP = &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}

// client opens a clickhouse-go connection over HTTP to addr.
func client(t testing.TB, addr, user, password string, method clickhouse.CompressionMethod) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.HTTP,
		Auth:        clickhouse.Auth{Database: "default", Username: user, Password: password},
		Compression: &clickhouse.Compression{Method: method},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("clickhouse.Open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rwClient is a clickhouse-go client of the shared server as the process's own connection,
// which may also drop what the tests create.
func rwClient(t testing.TB) driver.Conn {
	return client(t, env.srv.Addr(), testProcUser, testProcPass, clickhouse.CompressionNone)
}

// mustExec runs statements through clickhouse-go and fails the test on error.
func mustExec(t testing.TB, c driver.Conn, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if err := c.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// httpDo sends a raw request to the shared server as the read-write user unless the request
// carries its own credentials, and returns status, headers and body. query is the URL query, or
// a path with its query when it starts with a slash.
func httpDo(t testing.TB, method, query string, body io.Reader, header http.Header) (int, http.Header, string) {
	t.Helper()
	u := "http://" + env.srv.Addr()
	switch {
	case strings.HasPrefix(query, "/"): // a path of its own
		u += query
	case query != "":
		u += "/?" + query
	default:
		u += "/"
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" && req.Header.Get("X-ClickHouse-User") == "" && !strings.Contains(query, "user=") {
		req.SetBasicAuth(testUser, testPassword)
	}
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// processAuth is the header of a request as the process's own connection.
func processAuth() http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(testProcUser, testProcPass)
	return r.Header
}

func q(sql string, kv ...string) string {
	v := url.Values{"query": {sql}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}
