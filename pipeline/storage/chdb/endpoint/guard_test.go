package endpoint

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/schema"
)

// guardUsers are the clients every reaching statement is tried as: each must be refused.
var guardUsers = []struct {
	name string
	auth func(h http.Header)
}{
	{"read-write", func(h http.Header) { setBasic(h, testUser, testPassword) }},
	{"read-only", func(h http.Header) { setBasic(h, testROUser, testROPassword) }},
	{"process", func(h http.Header) { setBasic(h, testProcUser, testProcPass) }},
	{"no credentials", func(h http.Header) { h.Set("X-ClickHouse-User", "default") }},
}

func setBasic(h http.Header, user, pass string) {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	h.Set("Authorization", r.Header.Get("Authorization"))
}

// TestNoFilesOrNetwork tries every route to files, URLs, other servers and programs the
// engine has, in escaped, quoted, commented and mixed-case spellings, as every user, and checks
// that none answers, writes or fetches anything.
func TestNoFilesOrNetwork(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	const marker = "chatnight-secret-marker-7f3a"
	if err := os.WriteFile(secret, []byte(marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, marker)
	}))
	defer target.Close()
	mustExec(t, rwClient(t), "DROP TABLE IF EXISTS guard_t", "CREATE TABLE guard_t (s String) ENGINE = MergeTree ORDER BY s",
		"INSERT INTO guard_t VALUES ('kept')")

	// {read}: a file to read, {write}: a file to write, {url}: a URL to fetch.
	attacks := []string{
		"SELECT * FROM file('{read}', 'LineAsString')",
		"SELECT * FROM `fi\\x6ce`('{read}', 'LineAsString')",
		"SELECT * FROM \"fi\\x6ce\"('{read}', 'LineAsString')",
		"SELECT * FROM /* a */ file /* b */ ('{read}', 'LineAsString')",
		"SELECT * FROM fiLE('{read}', 'LineAsString')",
		"select * from `file`('{read}', 'LineAsString') -- x",
		"SELECT file('{read}')",
		"SELECT `fi\\x6ce`('{read}')",
		"SELECT `\\x66\\x69\\x6c\\x65`('{read}')",
		"SELECT FILE('{read}')",
		"SELECT (SELECT file('{read}'))",
		"SELECT * FROM (SELECT * FROM file('{read}', 'LineAsString'))",
		"WITH x AS (SELECT * FROM file('{read}', 'LineAsString')) SELECT * FROM x",
		"SELECT 1 UNION ALL SELECT length(file('{read}'))",
		"DESCRIBE TABLE file('{read}', 'LineAsString')",
		"SELECT * FROM url('{url}', 'LineAsString')",
		"SELECT * FROM `u\\x72l`('{url}', 'LineAsString')",
		"SELECT * FROM URL('{url}', 'LineAsString')",
		"SELECT * FROM urlCluster('default', '{url}', 'LineAsString')",
		"SELECT * FROM s3('{url}', 'LineAsString')",
		"SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'LineAsString')",
		"SELECT * FROM remote('127.0.0.1:1', system.one)",
		"SELECT * FROM remoteSecure('127.0.0.1:1', system.one)",
		"SELECT * FROM cluster('default', system.one)",
		"SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')",
		"SELECT * FROM postgresql('127.0.0.1:1', 'd', 't', 'u', 'p')",
		"SELECT * FROM sqlite('{read}', 't')",
		"SELECT * FROM executable('cat {read}', 'LineAsString', 's String')",
		"SELECT * FROM filesystem('{read}')",
		"INSERT INTO FUNCTION file('{write}', 'LineAsString') VALUES ('x')",
		"INSERT INTO FUNCTION `fi\\x6ce`('{write}', 'LineAsString') SELECT 'x'",
		"insert into function FiLe('{write}', 'LineAsString') select 'x'",
		"INSERT INTO FUNCTION url('{url}', 'LineAsString') VALUES ('x')",
		"SELECT 'x' INTO OUTFILE '{write}'",
		"SELECT 'x' INTO OUTFILE '{write}' FORMAT LineAsString",
		"INSERT INTO guard_t FROM INFILE '{read}' FORMAT LineAsString",
		"CREATE TABLE guard_file (s String) ENGINE = File(LineAsString, '{write}')",
		"CREATE TABLE guard_url (s String) ENGINE = URL('{url}', LineAsString)",
		"CREATE TABLE guard_fileas AS file('{read}', 'LineAsString')",
		"CREATE TABLE guard_mt ENGINE = MergeTree ORDER BY s AS SELECT * FROM file('{read}', 'LineAsString', 's String')",
		"CREATE VIEW guard_v AS SELECT * FROM `u\\x72l`('{url}', 'LineAsString')",
		"CREATE DATABASE guard_fs ENGINE = Filesystem('{read}')",
		"CREATE DICTIONARY guard_d (s String) PRIMARY KEY s SOURCE(FILE(path '{read}' format 'LineAsString')) LAYOUT(FLAT()) LIFETIME(0)",
		"CREATE DICTIONARY guard_h (s String) PRIMARY KEY s SOURCE(HTTP(url '{url}' format 'LineAsString')) LAYOUT(FLAT()) LIFETIME(0)",
		"CREATE DICTIONARY guard_e (s String) PRIMARY KEY s SOURCE(EXECUTABLE(command 'cat {read}' format 'LineAsString')) LAYOUT(FLAT()) LIFETIME(0)",
		"BACKUP TABLE guard_t TO File('{write}')",
		"ATTACH TABLE guard_att FROM '{read}' (s String) ENGINE = Log",
		"SELECT 1 SETTINGS `format_\\x73chema` = '{read}'",
		"SELECT 1 SETTINGS output_format_schema = '{write}'",
		"SELECT 1; SELECT * FROM file('{read}', 'LineAsString')",
	}
	for _, u := range guardUsers {
		for i, a := range attacks {
			out := filepath.Join(dir, fmt.Sprintf("written-%d", i))
			sql := strings.NewReplacer("{read}", secret, "{write}", out, "{url}", target.URL).Replace(a)
			t.Run(u.name+"/"+a, func(t *testing.T) {
				for _, how := range []string{"body", "query"} {
					h := http.Header{}
					u.auth(h)
					var code int
					var body string
					if how == "body" {
						code, _, body = httpDo(t, http.MethodPost, "", strings.NewReader(sql), h)
					} else {
						code, _, body = httpDo(t, http.MethodPost, q(sql), nil, h)
					}
					// Refused by the endpoint itself (403, 401 without credentials, 400 for two
					// statements), never merely failing inside the engine.
					if code != http.StatusForbidden && code != http.StatusUnauthorized && code != http.StatusBadRequest {
						t.Errorf("%s: answered %d: %q", how, code, body)
					}
					if strings.Contains(body, marker) {
						t.Errorf("%s: the answer shows the file or URL: %q", how, body)
					}
					if _, err := os.Stat(out); err == nil {
						t.Errorf("%s: wrote %s", how, out)
					}
				}
			})
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the URL target was fetched %d times", n)
	}
	code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader("SELECT count() FROM guard_t"), processAuth())
	if code != http.StatusOK || strings.TrimSpace(body) != "1" {
		t.Errorf("guard_t changed: %d %q", code, body)
	}
	code, _, body = httpDo(t, http.MethodPost, "", strings.NewReader("SELECT count() FROM system.tables WHERE name LIKE 'guard\\_%' AND name != 'guard_t'"), processAuth())
	if code != http.StatusOK || strings.TrimSpace(body) != "0" {
		t.Errorf("a guarded table was created: %d %q", code, body)
	}
}

// TestAdminStatements: DROP, ALTER, TRUNCATE, DELETE and SYSTEM are for the process's own
// connection; the read-write user gets them only with AdminAccess.
func TestAdminStatements(t *testing.T) {
	mustExec(t, rwClient(t), "DROP TABLE IF EXISTS admin_t", "CREATE TABLE admin_t (n UInt64) ENGINE = MergeTree ORDER BY n",
		"INSERT INTO admin_t SELECT number FROM numbers(5)")
	statements := []string{
		"DROP TABLE admin_t",
		"drop /* x */ table `admin\\x5ft`",
		"TRUNCATE TABLE admin_t",
		"ALTER TABLE admin_t DELETE WHERE 1",
		"DELETE FROM admin_t WHERE 1",
		"RENAME TABLE admin_t TO admin_gone",
		"SYSTEM DROP DNS CACHE",
		"KILL QUERY WHERE 1",
		"CREATE FUNCTION admin_f AS x -> x",
		"CREATE USER admin_u",
	}
	for _, u := range guardUsers {
		if u.name == "process" {
			continue
		}
		for _, sql := range statements {
			h := http.Header{}
			u.auth(h)
			if code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader(sql), h); code == http.StatusOK {
				t.Errorf("%s: %s answered 200: %q", u.name, sql, body)
			}
		}
	}
	if code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader("SELECT count() FROM admin_t"), nil); code != http.StatusOK || strings.TrimSpace(body) != "5" {
		t.Fatalf("admin_t changed: %d %q", code, body)
	}
	// What the read-write user may do.
	for _, sql := range []string{
		"INSERT INTO admin_t VALUES (7)",
		"CREATE TABLE IF NOT EXISTS admin_new (n UInt64) ENGINE = ReplacingMergeTree ORDER BY n",
		"OPTIMIZE TABLE admin_t FINAL",
		"SELECT count() FROM numbers(3)",
		"SELECT url FROM (SELECT 'x' AS url) WHERE url = 'x'",
		"SHOW TABLES",
		"SELECT 1 SETTINGS max_threads = 1",
	} {
		if code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader(sql), nil); code != http.StatusOK {
			t.Errorf("read-write user: %s: %d %q", sql, code, body)
		}
	}
	for _, p := range []string{"format_schema", "output_format_schema", "dialect", "custom_x"} {
		if code, _, body := httpDo(t, http.MethodPost, q("SELECT 1", p, "x"), nil, nil); code != http.StatusForbidden {
			t.Errorf("URL setting %s: %d %q", p, code, body)
		}
	}
	// The process's own connection may.
	for _, sql := range []string{"ALTER TABLE admin_t DELETE WHERE n = 7 SETTINGS mutations_sync = 1", "TRUNCATE TABLE admin_t", "DROP TABLE admin_new", "SYSTEM DROP DNS CACHE"} {
		if code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader(sql), processAuth()); code != http.StatusOK {
			t.Errorf("process: %s: %d %q", sql, code, body)
		}
	}

	// With admin access the read-write user may too.
	opts := testOptions()
	opts.AdminAccess = true
	h, err := NewHandler(env.conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("DROP TABLE admin_t"))
	req.SetBasicAuth(testUser, testPassword)
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin access: DROP answered %s", resp.Status)
	}
}

// TestBrowserAndRebinding: requests a browser sends for a page of another site, and requests for
// a host name the endpoint does not know (DNS rebinding), are refused before they reach the
// engine; clients that are not browsers and same-origin requests pass.
func TestBrowserAndRebinding(t *testing.T) {
	mustExec(t, rwClient(t), "DROP TABLE IF EXISTS browser_t", "CREATE TABLE browser_t (n UInt64) ENGINE = MergeTree ORDER BY n")
	addr := env.srv.Addr()
	cases := []struct {
		name   string
		header map[string]string
		host   string
		ok     bool
	}{
		{"plain client", nil, "", true},
		{"localhost host", nil, "localhost:" + port(addr), true},
		{"ipv6 loopback host", nil, "[::1]:" + port(addr), true},
		{"same origin", map[string]string{"Origin": "http://" + addr, "Sec-Fetch-Site": "same-origin"}, "", true},
		{"typed in the address bar", map[string]string{"Sec-Fetch-Site": "none"}, "", true},
		{"cross-site fetch", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, "", false},
		{"cross-site without origin", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", false},
		{"same-site other port", map[string]string{"Sec-Fetch-Site": "same-site"}, "", false},
		{"origin only", map[string]string{"Origin": "http://evil.example"}, "", false},
		{"null origin", map[string]string{"Origin": "null"}, "", false},
		{"rebinding host", nil, "attacker.example:" + port(addr), false},
		{"rebinding host without port", nil, "attacker.example", false},
		{"rebinding with its own origin", map[string]string{"Origin": "http://attacker.example:" + port(addr), "Sec-Fetch-Site": "same-origin"}, "attacker.example:" + port(addr), false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			for _, sql := range []string{"INSERT INTO browser_t VALUES (1)", "SELECT count() FROM browser_t"} {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(sql))
				req.SetBasicAuth(testUser, testPassword)
				req.Header.Set("Content-Type", "text/plain")
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				if tt.host != "" {
					req.Host = tt.host
				}
				resp, err := rawHTTP.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.StatusCode == http.StatusOK; got != tt.ok {
					t.Errorf("%s: %s, want ok=%v", sql, resp.Status, tt.ok)
				}
			}
		})
	}
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestReadOnlyReadsEveryTable: the guard leaves the read-only user every table of chatnight's
// schema (applied by the process's own connection, which the migrations need).
func TestReadOnlyReadsEveryTable(t *testing.T) {
	ctx := context.Background()
	conn, err := storage.Open(ctx, "http://"+testProcUser+":"+testProcPass+"@"+env.srv.Addr()+"/default")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrations as the process: %v", err)
	}
	h := http.Header{}
	setBasic(h, testROUser, testROPassword)
	code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader(
		"SELECT database || '.' || name FROM system.tables WHERE database = 'chatnight' ORDER BY name"), h)
	if code != http.StatusOK {
		t.Fatalf("list tables: %d %q", code, body)
	}
	tables := strings.Fields(body)
	if len(tables) < 5 {
		t.Fatalf("only %d tables in chatnight: %q", len(tables), body)
	}
	for _, tb := range tables {
		if code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader("SELECT count() FROM "+tb), h); code != http.StatusOK {
			t.Errorf("read-only user reading %s: %d %q", tb, code, body)
		}
	}
}
