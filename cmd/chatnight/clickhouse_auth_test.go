package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bus/bustest"
)

// chHTTP sends one statement to a ClickHouse HTTP endpoint as user (no user when
// empty) and returns the status and body.
func chHTTP(t *testing.T, addr, user, pass, sql string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/?"+url.Values{"query": {sql}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestEmbeddedClickHouseUsers: `chatnight run` serves its embedded ClickHouse with the
// read-write password from the environment and a read-only user whose password comes
// from a file; anonymous requests are refused, the read-only user cannot write, change
// the schema or lift its limits, and neither password appears in the output.
func TestEmbeddedClickHouseUsers(t *testing.T) {
	const rwPass, roPass = "rw-Pa55word-7f3a9", "ro-Pa55word-c01d2"
	dir := t.TempDir()
	roFile := filepath.Join(dir, "ro-password")
	if err := os.WriteFile(roFile, []byte(roPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := newNode(t, filepath.Join(dir, "data"))
	t.Setenv(envCHPassword, rwPass) // inherited by the child
	n.start("run", "--clickhouse-readonly-user", "grafana", "--clickhouse-readonly-password-file", roFile,
		"--clickhouse-max-execution-time", "2s", "--clickhouse-max-result-rows", "1000", "--log-level", "debug")
	// The child is ready: its own connection (migrations, readyz pings) used the
	// read-write password.

	for _, c := range []struct{ user, pass string }{{"", ""}, {"default", ""}, {"default", "wrong"}, {"grafana", rwPass}} {
		if code, body := chHTTP(t, n.chAddr, c.user, c.pass, "SELECT 1"); code != http.StatusUnauthorized {
			t.Errorf("user %q password %q: %d %s, want 401", c.user, c.pass, code, body)
		}
	}
	if code, body := chHTTP(t, n.chAddr, "default", rwPass, "SELECT count() FROM chatnight.posts"); code != http.StatusOK {
		t.Errorf("read-write user: %d %s", code, body)
	}
	if code, body := chHTTP(t, n.chAddr, "grafana", roPass, "SELECT count() FROM chatnight.posts"); code != http.StatusOK {
		t.Errorf("read-only user cannot read: %d %s", code, body)
	}
	refused := []string{
		"INSERT INTO chatnight.posts (community, id) VALUES ('hcldr', 'x:1')",
		"CREATE TABLE default.evil (x UInt8) ENGINE = Memory",
		"DROP TABLE chatnight.posts",
		"ALTER TABLE chatnight.posts DELETE WHERE 1",
		"SELECT * FROM file('/etc/passwd', 'LineAsString')",
		"SELECT number FROM system.numbers LIMIT 5000",                  // over max_result_rows
		"SELECT count() FROM numbers(1000000000000)",                    // over max_execution_time
		"SELECT 1 SETTINGS readonly = 0",                                // cannot lift its limits
		"SELECT number FROM numbers(5000) SETTINGS max_result_rows = 0", // nor this one
	}
	for _, q := range refused {
		start := time.Now()
		code, body := chHTTP(t, n.chAddr, "grafana", roPass, q)
		if code == http.StatusOK {
			t.Errorf("read-only user ran %q: %s", q, abbreviate(body))
		}
		t.Logf("refused in %v: %s -> %d %s", time.Since(start).Round(time.Millisecond), q, code, abbreviate(body))
	}
	if code, body := chHTTP(t, n.chAddr, "default", rwPass, "EXISTS TABLE default.evil"); code != http.StatusOK || strings.TrimSpace(body) != "0" {
		t.Errorf("the read-only user's CREATE left a table: %d %q", code, body)
	}
	// The read-write user reaches no files or URLs either, and cannot drop or alter.
	for _, q := range []string{
		"SELECT * FROM file('/etc/passwd', 'LineAsString')",
		"SELECT `fi\\x6ce`('/proc/self/environ')",
		"SELECT * FROM url('http://" + n.httpAddr + "/healthz', 'LineAsString')",
		"INSERT INTO FUNCTION file('" + filepath.Join(dir, "evil") + "', 'LineAsString') VALUES ('x')",
		"DROP TABLE chatnight.posts",
		"ALTER TABLE chatnight.posts DELETE WHERE 1",
		"TRUNCATE TABLE chatnight.posts",
		"SYSTEM FLUSH LOGS",
	} {
		if code, body := chHTTP(t, n.chAddr, "default", rwPass, q); code != http.StatusForbidden {
			t.Errorf("read-write user: %q: %d %s, want 403", q, code, abbreviate(body))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil {
		t.Error("INSERT INTO FUNCTION file() wrote a file")
	}
	n.stop()
	for _, secret := range []string{rwPass, roPass} {
		if strings.Contains(n.out.String(), secret) {
			t.Errorf("a password appears in the output:\n%s", n.out.String())
		}
	}
}

// TestEmbeddedClickHouseGeneratedPassword: on defaults the endpoint still requires
// credentials: `run` generates a read-write password into the data dir, readable by its owner
// only, and tools pointed at that endpoint with the same data dir find it themselves. Browsers
// on other origins and foreign Host names are refused.
func TestEmbeddedClickHouseGeneratedPassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv(envCHPassword, "")
	n := newNode(t, dir)
	n.start("run")
	fi, err := os.Stat(filepath.Join(dir, chPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", chPasswordFile, fi.Mode().Perm())
	}
	pw, err := dataDirPassword(dir, false)
	if err != nil || len(pw) < 32 {
		t.Fatalf("password %d characters, %v", len(pw), err)
	}
	if code, body := chHTTP(t, n.chAddr, "", "", "SELECT 1"); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d %s, want 401", code, body)
	}
	if code, body := chHTTP(t, n.chAddr, "default", pw, "SELECT count() FROM chatnight.posts"); code != http.StatusOK {
		t.Errorf("generated password: %d %s", code, body)
	}
	// A tool on the same data dir, given the endpoint without credentials.
	out := chatnight(t, "optout", "list", "--clickhouse-dsn", "http://"+n.chAddr+"/default", "--data-dir", dir)
	t.Logf("optout list: %q", out)

	for _, c := range []struct {
		name   string
		header map[string]string
		host   string
	}{
		{"cross-site page", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, ""},
		{"rebinding", nil, "evil.example:" + strings.Split(n.chAddr, ":")[1]},
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+n.chAddr+"/", strings.NewReader("SELECT 1"))
		req.SetBasicAuth("default", pw)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		if c.host != "" {
			req.Host = c.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("%s: answered %s", c.name, resp.Status)
		}
	}
	n.stop()
	if strings.Contains(n.out.String(), pw) {
		t.Error("the generated password appears in the output")
	}
}

// TestEmbeddedClickHouseRefusesOpenAddress: listening beyond loopback without a password
// fails the start and says how to fix it.
func TestEmbeddedClickHouseRefusesOpenAddress(t *testing.T) {
	dir := t.TempDir()
	free := func() string { return fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)) }
	out, code := runChild(t, nil, "run", "--data-dir", dir, "--http-addr", free(), "--nats-listen", free(),
		"--clickhouse-http-addr", fmt.Sprintf("0.0.0.0:%d", bustest.FreePort(t)), "--clickhouse-readonly-user", "grafana")
	if code != 1 || !strings.Contains(out, "not a loopback address") || !strings.Contains(out, "--clickhouse-http-addr") {
		t.Errorf("exit %d, want 1 and a message about the password:\n%s", code, out)
	}
	out, code = runChild(t, nil, "run", "--data-dir", dir, "--http-addr", free(), "--nats-listen", free(),
		"--clickhouse-http-addr", free(), "--clickhouse-password-file", filepath.Join(dir, "missing"))
	if code != 1 || !strings.Contains(out, "--clickhouse-password-file") {
		t.Errorf("missing password file: exit %d\n%s", code, out)
	}
}

func abbreviate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
