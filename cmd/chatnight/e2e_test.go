package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// The end-to-end tests run the real binary's code as child processes: the test binary
// re-executes itself with CHATNIGHT_TEST_MAIN set, which makes TestMain call Main with
// the arguments that follow. chDB runs one engine per process, and a child can be
// killed and restarted like the real thing.
const envTestMain = "CHATNIGHT_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envTestMain) == "1" {
		ctx, stop := signalContext()
		code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// node is one chatnight child process with its own ports and data dir.
type node struct {
	t        testing.TB
	dataDir  string
	httpAddr string
	natsAddr string
	chAddr   string
	cmd      *exec.Cmd
	out      *ingesttest.SyncBuffer
	done     chan error
}

func newNode(t testing.TB, dataDir string) *node {
	return &node{
		t:        t,
		dataDir:  dataDir,
		httpAddr: fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)),
		natsAddr: fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)),
		chAddr:   fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)),
	}
}

func (n *node) natsURL() string { return "nats://" + n.natsAddr }

// chDSN is the node's embedded endpoint as its read-write user, with the password from the
// environment or the one `run` generated into the data dir.
func (n *node) chDSN() string {
	n.t.Helper()
	pw := os.Getenv(envCHPassword)
	if pw == "" {
		var err error
		if pw, err = dataDirPassword(n.dataDir, false); err != nil || pw == "" {
			n.t.Fatalf("no ClickHouse password in %s (%v)", n.dataDir, err)
		}
	}
	return (&url.URL{Scheme: "http", Host: n.chAddr, Path: "/default", User: url.UserPassword("default", pw)}).String()
}

// start runs `chatnight <args>` with the node's ports and data dir, and waits until it
// is ready.
func (n *node) start(args ...string) {
	n.t.Helper()
	n.startArgs(append(args, "--data-dir", n.dataDir, "--http-addr", n.httpAddr, "--nats-listen", n.natsAddr,
		"--clickhouse-http-addr", n.chAddr))
}

// startArgs runs `chatnight <args>` and waits until /readyz on n.httpAddr answers.
func (n *node) startArgs(args []string) {
	t := n.t
	t.Helper()
	n.cmd = exec.Command(os.Args[0], args...)
	n.cmd.Env = append(os.Environ(), envTestMain+"=1")
	n.out = &ingesttest.SyncBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start chatnight: %v", err)
	}
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("chatnight output:\n%s", n.out.String())
		}
	})
	waitFor(t, 60*time.Second, "chatnight to be ready", func() error {
		select {
		case err := <-n.done:
			n.done <- err
			return fmt.Errorf("exited: %v\n%s", err, n.out.String())
		default:
		}
		resp, err := http.Get("http://" + n.httpAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
}

// stop sends SIGTERM and expects a clean exit.
func (n *node) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Fatalf("chatnight did not shut down cleanly: %v\n%s", err, n.out.String())
		}
	case <-time.After(30 * time.Second):
		n.t.Fatalf("chatnight did not stop within 30s of SIGTERM")
	}
}

// kill ends the process at once, the way a crash would.
func (n *node) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// ch opens a clickhouse-go connection to the node's embedded endpoint.
func (n *node) ch(ctx context.Context) driver.Conn {
	n.t.Helper()
	conn, err := storage.Open(ctx, n.chDSN())
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { conn.Close() })
	return conn
}

// chatnight runs a short-lived subcommand in this process and returns its output.
func chatnight(t testing.TB, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if code := Main(ctx, args, &out, &out); code != 0 {
		t.Fatalf("chatnight %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
	}
	return out.String()
}

// waitFor polls fn until it returns nil or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
}
