package endpoint

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	chcompress "github.com/ClickHouse/ch-go/compress"
	"github.com/klauspost/compress/zstd"
)

func gzipped(s string) io.Reader {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return &b
}

func zstded(s string) io.Reader {
	w, _ := zstd.NewWriter(nil)
	return bytes.NewReader(w.EncodeAll([]byte(s), nil))
}

func blocked(s string) io.Reader {
	w := chcompress.NewWriter(chcompress.LevelZero, chcompress.LZ4)
	if err := w.Compress([]byte(s)); err != nil {
		panic(err)
	}
	return bytes.NewReader(w.Data)
}

// bigTSV returns n rows of "i\trow-i\n" and their sum of i.
func bigTSV(n int) (string, int) {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%d\trow-%d\n", i, i)
	}
	return b.String(), n * (n - 1) / 2
}

// TestHTTPInterface drives the endpoint the way curl and other plain HTTP clients do.
func TestHTTPInterface(t *testing.T) {
	for _, sql := range []string{"DROP TABLE IF EXISTS curl_t", "CREATE TABLE curl_t (n UInt64, s String) ENGINE = MergeTree ORDER BY n"} {
		if code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader(sql), processAuth()); code != http.StatusOK {
			t.Fatalf("%s: %d %s", sql, code, body)
		}
	}
	big, bigSum := bigTSV(50_000) // about 800 KB: more than chDB takes inline
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name     string
		method   string
		query    string
		body     io.Reader
		header   http.Header
		status   int
		want     string // exact body on success, a substring on failure
		code     string // X-ClickHouse-Exception-Code
		wantHead map[string]string
	}{
		{name: "ping", method: http.MethodGet, status: 200, want: "Ok.\n"},
		{name: "select in GET", method: http.MethodGet, query: q("SELECT 1"), status: 200, want: "1\n",
			wantHead: map[string]string{"X-ClickHouse-Format": "TabSeparated", "Content-Type": "text/tab-separated-values; charset=UTF-8"}},
		{name: "select in body", method: http.MethodPost, body: strings.NewReader("SELECT 'a', 2"), status: 200, want: "a\t2\n"},
		{name: "query and body joined", method: http.MethodPost, query: q("SELECT"), body: strings.NewReader("3 + 4"), status: 200, want: "7\n"},
		{name: "default_format", method: http.MethodGet, query: q("SELECT 1 AS x", "default_format", "JSONEachRow"), status: 200, want: "{\"x\":1}\n"},
		{name: "format clause wins", method: http.MethodGet, query: q("SELECT 1 AS x FORMAT CSVWithNames", "default_format", "Native"),
			status: 200, want: "\"x\"\n1\n", wantHead: map[string]string{"X-ClickHouse-Format": "CSVWithNames"}},
		{name: "parameters", method: http.MethodGet, query: q("SELECT {a:UInt8} + {b:UInt8}", "param_a", "40", "param_b", "2"), status: 200, want: "42\n"},
		{name: "database", method: http.MethodGet, query: q("SELECT currentDatabase()", "database", "system"), status: 200, want: "system\n"},
		{name: "setting", method: http.MethodGet, query: q("SELECT getSetting('max_threads')", "max_threads", "3"), status: 200, want: "3\n"},
		{name: "setting does not stick", method: http.MethodGet, query: q("SELECT getSetting('max_threads') = 3"), status: 200, want: "0\n"},
		{name: "max_execution_time default", method: http.MethodGet, query: q("SELECT getSetting('max_execution_time')"), status: 200, want: "60\n"},
		{name: "client-only parameters", method: http.MethodGet, query: q("SELECT 5", "client_protocol_version", "54460", "wait_end_of_query", "1", "quota_key", "k"), status: 200, want: "5\n"},
		{name: "query id", method: http.MethodGet, query: q("SELECT 1", "query_id", "my-query"), status: 200, want: "1\n",
			wantHead: map[string]string{"X-ClickHouse-Query-Id": "my-query"}},
		{name: "insert json in body", method: http.MethodPost, body: strings.NewReader("INSERT INTO curl_t FORMAT JSONEachRow\n{\"n\":1000000,\"s\":\"json\"}\n"), status: 200},
		{name: "insert tsv after query", method: http.MethodPost, query: q("INSERT INTO curl_t FORMAT TabSeparated"), body: strings.NewReader(big), status: 200},
		{name: "insert inline tsv beyond 256 KiB", method: http.MethodPost, body: strings.NewReader("INSERT INTO curl_t (n, s) FORMAT TSV " + big), status: 200},
		{name: "insert values", method: http.MethodPost, query: q("INSERT INTO curl_t VALUES"), body: strings.NewReader("(2000000, 'v1'), (2000001, 'v2')"), status: 200},
		{name: "insert gzip", method: http.MethodPost, query: q("INSERT INTO curl_t FORMAT CSV"), body: gzipped("3000000,gz\n"),
			header: hdr("Content-Encoding", "gzip"), status: 200},
		{name: "insert zstd", method: http.MethodPost, query: q("INSERT INTO curl_t FORMAT CSV"), body: zstded("3000001,zstd\n"),
			header: hdr("Content-Encoding", "zstd"), status: 200},
		{name: "insert decompress=1", method: http.MethodPost, query: q("INSERT INTO curl_t FORMAT CSV", "decompress", "1"), body: blocked("3000002,lz4\n"), status: 200},
		{name: "count", method: http.MethodGet, query: q("SELECT count(), sum(n) FROM curl_t"), status: 200,
			want: fmt.Sprintf("%d\t%d\n", 2*50_000+6, 2*bigSum+1000000+2000000+2000001+3000000+3000001+3000002)},
		{name: "SET is a no-op", method: http.MethodPost, body: strings.NewReader("SET max_threads = 1"), status: 200, want: ""},
		{name: "SET did not stick", method: http.MethodGet, query: q("SELECT getSetting('max_threads') = 1"), status: 200, want: "0\n"},

		{name: "syntax error", method: http.MethodPost, body: strings.NewReader("SELEC 1"), status: 500, want: "Code: 62. DB::Exception: Syntax error", code: "62"},
		{name: "bad insert data", method: http.MethodPost, query: q("INSERT INTO curl_t FORMAT JSONEachRow"), body: strings.NewReader("{\"n\":\"x\"}"),
			status: 500, want: "Code: ", code: ""},
		{name: "empty query", method: http.MethodPost, body: strings.NewReader("  "), status: 400, want: "Empty query", code: "62"},
		{name: "multi-statement", method: http.MethodPost, body: strings.NewReader("SELECT 1; SELECT 2"), status: 400, want: "Multi-statements", code: "62"},
		{name: "write in GET", method: http.MethodGet, query: q("DROP TABLE curl_t"), status: 403, want: "readonly", code: "164"},
		{name: "insert in GET", method: http.MethodGet, query: q("INSERT INTO curl_t VALUES (1, 'x')"), status: 403, want: "readonly", code: "164"},
		{name: "readonly=1", method: http.MethodPost, query: q("DROP TABLE curl_t", "readonly", "1"), status: 403, code: "164"},
		{name: "unknown setting", method: http.MethodGet, query: q("SELECT 1", "no_such_setting", "1"), status: 500, want: "no_such_setting", code: "115"},
		{name: "session", method: http.MethodGet, query: q("SELECT 1", "session_id", "s1"), status: 404, want: "session_id", code: "372"},
		{name: "content encoding", method: http.MethodPost, body: strings.NewReader("SELECT 1"), header: hdr("Content-Encoding", "snappy"),
			status: 400, want: "gzip, deflate, br, zstd, lz4", code: "89"},
		{name: "corrupt gzip", method: http.MethodPost, body: strings.NewReader("SELECT 1"), header: hdr("Content-Encoding", "gzip"), status: 400, code: "271"},
		{name: "external tables", method: http.MethodPost, body: strings.NewReader("--x--"), header: hdr("Content-Type", "multipart/form-data; boundary=x"), status: 400, want: "External tables"},
		{name: "wrong password", method: http.MethodGet, query: q("SELECT 1"), header: hdr("X-ClickHouse-User", testUser, "X-ClickHouse-Key", "nope"),
			status: 401, want: "Authentication failed", code: "516"},
		{name: "no credentials", method: http.MethodGet, query: q("SELECT 1", "user", "default"), status: 401, code: "516"},
		{name: "read-only user with a database", method: http.MethodPost, query: q("SELECT currentDatabase(), getSetting('max_execution_time')",
			"database", "system", "max_execution_time", "5"), header: hdr("X-ClickHouse-User", testROUser, "X-ClickHouse-Key", testROPassword),
			status: 200, want: "system\t60\n"},
		{name: "read-only user cannot change settings", method: http.MethodPost, query: q("SELECT 1", "max_threads", "1"),
			header: hdr("X-ClickHouse-User", testROUser, "X-ClickHouse-Key", testROPassword), status: 500, code: "164"},
		{name: "read-only user, Basic auth", method: http.MethodPost, query: q("INSERT INTO curl_t VALUES (9, 'x')"),
			header: hdr("Authorization", "Basic cmVhZGVyOnIzYWRlcg=="), status: 403, code: "164"},
		{name: "credentials as parameters", method: http.MethodGet, query: q("SELECT 8", "user", testUser, "password", testPassword), status: 200, want: "8\n"},
		{name: "root", method: http.MethodGet, query: "", status: 200, want: "Ok.\n"},
		{name: "ping path", method: http.MethodGet, query: "/ping", status: 200, want: "Ok.\n"},
		{name: "unknown path", method: http.MethodGet, query: "/play?query=SELECT+1", status: 404, want: "/play"},
		{name: "put", method: http.MethodPut, query: q("SELECT 1"), status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == nil {
				body = http.NoBody
			}
			status, h, got := httpDo(t, tt.method, tt.query, body, tt.header)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, got)
			}
			if tt.status == 200 && tt.want != got && (tt.want != "" || got != "") {
				t.Fatalf("body %q, want %q", got, tt.want)
			}
			if tt.status != 200 && !strings.Contains(got, tt.want) {
				t.Fatalf("body %q does not contain %q", got, tt.want)
			}
			if tt.status != 200 && (tt.code != "" && h.Get("X-ClickHouse-Exception-Code") != tt.code || h.Get("X-ClickHouse-Exception-Code") == "" && tt.status >= 500) {
				t.Fatalf("X-ClickHouse-Exception-Code %q, want %q", h.Get("X-ClickHouse-Exception-Code"), tt.code)
			}
			for k, v := range tt.wantHead {
				if h.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
				}
			}
		})
	}
}

func TestHTTPResponseCompression(t *testing.T) {
	const want = "0\n1\n2\n3\n4\n"
	sql := q("SELECT number FROM numbers(5)", "enable_http_compression", "1")
	for _, enc := range []string{"gzip", "deflate", "br", "zstd", "lz4"} {
		t.Run(enc, func(t *testing.T) {
			status, h, body := httpDo(t, http.MethodGet, sql, http.NoBody, http.Header{"Accept-Encoding": {enc}})
			if status != 200 || h.Get("Content-Encoding") != enc {
				t.Fatalf("status %d, Content-Encoding %q", status, h.Get("Content-Encoding"))
			}
			plain, err := io.ReadAll(mustDecode(t, strings.NewReader(body), enc))
			if err != nil || string(plain) != want {
				t.Fatalf("decoded %q, %v", plain, err)
			}
		})
	}
	t.Run("compress=1", func(t *testing.T) {
		status, _, body := httpDo(t, http.MethodGet, q("SELECT number FROM numbers(5)", "compress", "1", "network_compression_method", "ZSTD"), http.NoBody, nil)
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		plain, err := io.ReadAll(cleanEOF{chcompress.NewReader(strings.NewReader(body))})
		if err != nil || string(plain) != want {
			t.Fatalf("decoded %q, %v", plain, err)
		}
	})
	t.Run("not asked", func(t *testing.T) {
		_, h, body := httpDo(t, http.MethodGet, q("SELECT number FROM numbers(5)"), http.NoBody, http.Header{"Accept-Encoding": {"gzip"}})
		if h.Get("Content-Encoding") != "" || body != want {
			t.Fatalf("compressed without enable_http_compression: %q %q", h.Get("Content-Encoding"), body)
		}
	})
}

func mustDecode(t *testing.T, r io.Reader, enc string) io.Reader {
	t.Helper()
	d, closeFn, err := decodeBody(r, enc, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return d
}

func TestListenChecks(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opts func(o *Options)
		want []string // error substrings; none means it starts
	}{
		{"no password", func(o *Options) { o.Password = "" },
			[]string{"no password", testUser}},
		{"reserved process user", func(o *Options) { o.ProcessUser = o.User }, []string{"reserved"}},
		{"0.0.0.0 without read-only password", func(o *Options) { o.Addr = "0.0.0.0:0"; o.ReadOnlyPassword = "" },
			[]string{"0.0.0.0:0", "read-only user " + testROUser, AddrFlag}},
		{"port in use", func(o *Options) { o.Addr = env.srv.Addr() },
			[]string{env.srv.Addr(), "already in use", AddrFlag}},
		{"bad address", func(o *Options) { o.Addr = "nonsense" }, []string{"nonsense", AddrFlag}},
		{"same user twice", func(o *Options) { o.ReadOnlyUser = o.User }, []string{"different names"}},
		{"0.0.0.0 with passwords", func(o *Options) { o.Addr = "0.0.0.0:0" }, nil},
		{"localhost without read-only password", func(o *Options) { o.Addr = "localhost:0"; o.ReadOnlyPassword = "" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			tt.opts(&opts)
			s, err := NewServer(env.conn, opts)
			if err == nil {
				err = s.Start(ctx)
				defer s.Shutdown(ctx)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Start on %s succeeded", opts.Addr)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoopbackRule(t *testing.T) {
	tests := []struct {
		addr     string
		loopback bool
	}{
		{"127.0.0.1:8123", true},
		{"127.3.4.5:8123", true},
		{"[::1]:8123", true},
		{"localhost:8123", true},
		{":8123", false},
		{"0.0.0.0:8123", false},
		{"[::]:8123", false},
		{"192.168.1.10:8123", false},
	}
	for _, tt := range tests {
		got, err := isLoopback(context.Background(), tt.addr)
		if err != nil || got != tt.loopback {
			t.Errorf("isLoopback(%q) = %v, %v; want %v", tt.addr, got, err, tt.loopback)
		}
		err = Options{Addr: tt.addr, User: "u", Password: "p", ReadOnlyUser: "r"}.validate(context.Background())
		if (err == nil) != tt.loopback {
			t.Errorf("validate(%q) without read-only password: %v", tt.addr, err)
		}
		if err := (Options{Addr: tt.addr, User: "u", Password: "p", ReadOnlyUser: "r", ReadOnlyPassword: "q"}).validate(context.Background()); err != nil {
			t.Errorf("validate(%q) with password: %v", tt.addr, err)
		}
	}
}
