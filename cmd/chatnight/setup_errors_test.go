package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bus/bustest"
)

// runChild runs chatnight as a child process and returns its output and exit code.
func runChild(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envTestMain+"=1"), env...)
	done := make(chan struct{})
	timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	close(done)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("run chatnight: %v", err)
	}
	return string(out), 0
}

// occupied holds a loopback port open for the test.
func occupied(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// TestBadSetupSaysWhatToDo: every way a setup can be wrong ends with exit code 1 and
// a message naming the culprit and the fix.
func TestBadSetupSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "communities.yaml")
	os.WriteFile(badConfig, []byte("communities:\n  - id: hcldr\n    hashtags: [hcldr]\n    schedule:\n      - {weekday: tuesday, start: \"25:00\", timezone: UTC, duration: 60m}\n"), 0o644)
	notADir := filepath.Join(dir, "file")
	os.WriteFile(notADir, []byte("x"), 0o644)
	corruptLib := filepath.Join(dir, "libchdb.so")
	os.WriteFile(corruptLib, []byte("this is not a shared library"), 0o644)
	free := func() string { return fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)) }
	ports := func() []string {
		return []string{"--http-addr", free(), "--nats-listen", free(), "--clickhouse-http-addr", free()}
	}

	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"malformed config", nil, []string{"process", "--config", badConfig},
			[]string{badConfig + ":5:", "schedule[0].start", "25:00"}},
		{"unreachable nats", nil, []string{"simulate", "--community", "hcldr", "--nats-url", "nats://" + free()},
			[]string{"connect to NATS at nats://127.0.0.1:", "--nats-url"}},
		{"unreachable clickhouse", nil, append([]string{"process", "--data-dir", filepath.Join(dir, "d1"), "--clickhouse-dsn", "http://" + free() + "/default"}, ports()...),
			[]string{"clickhouse at http://127.0.0.1:", "does not answer", "--clickhouse-dsn"}},
		{"nats port in use", nil, append([]string{"run", "--data-dir", filepath.Join(dir, "d2")}, append(ports(), "--nats-listen", occupied(t))...),
			[]string{"embedded NATS cannot listen on 127.0.0.1:", "--nats-listen"}},
		{"clickhouse port in use", nil, append([]string{"run", "--data-dir", filepath.Join(dir, "d3")}, append(ports(), "--clickhouse-http-addr", occupied(t))...),
			[]string{"already in use", "--clickhouse-http-addr"}},
		{"http port in use", nil, append([]string{"run", "--data-dir", filepath.Join(dir, "d4")}, append(ports(), "--http-addr", occupied(t))...),
			[]string{"127.0.0.1:", "--http-addr"}},
		{"unwritable data dir", nil, append([]string{"run", "--data-dir", filepath.Join(notADir, "data")}, ports()...),
			[]string{"not a directory", "--data-dir"}},
		{"libchdb missing", []string{"CHATNIGHT_CHDB_LIB=" + filepath.Join(dir, "nope.so")}, append([]string{"run", "--data-dir", filepath.Join(dir, "d5")}, ports()...),
			[]string{"nope.so", "make setup"}},
		{"libchdb corrupt", []string{"CHATNIGHT_CHDB_LIB=" + corruptLib}, append([]string{"run", "--data-dir", filepath.Join(dir, "d6")}, ports()...),
			[]string{corruptLib, "fetch-libchdb.sh"}},
		{"unknown community", nil, []string{"simulate", "--community", "nosuch"},
			[]string{`community "nosuch"`, "hcldr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runChild(t, tt.env, tt.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestHelpAndEnv(t *testing.T) {
	out, code := runChild(t, nil, "--help")
	if code != 0 || !strings.Contains(out, "simulate") || !strings.Contains(out, "CHATNIGHT_NATS_URL") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	out, code = runChild(t, nil, "run", "--help")
	for _, flag := range []string{"--config", "--data-dir", "--http-addr", "--nats-url", "--clickhouse-dsn", "--clickhouse-http-addr", "--nats-listen", "--simulate"} {
		if !strings.Contains(out, strings.TrimPrefix(flag, "-")) {
			t.Errorf("run --help lacks %s (exit %d)", flag, code)
		}
	}
	// Environment variables mirror flags.
	out, code = runChild(t, []string{"CHATNIGHT_NATS_URL=nats://127.0.0.1:1"}, "simulate", "--community", "hcldr")
	if code != 1 || !strings.Contains(out, "nats://127.0.0.1:1") {
		t.Errorf("CHATNIGHT_NATS_URL was not used: exit %d\n%s", code, out)
	}
	out, code = runChild(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "chatnight ") {
		t.Errorf("version: exit %d %q", code, out)
	}
}
