//go:build chaos

// Long fault tests, run by `make chaos` (and .ci/run), not by `make test`.

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// vmRSS reads a process's resident set size in MiB from /proc.
func vmRSS(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// publishPaced publishes posts in messages of per posts at about rate posts per
// second, until all are out or ctx ends; it returns when done.
func publishPaced(ctx context.Context, t *testing.T, natsURL string, posts []*post.Post, per, rate int) error {
	nc, js, err := bus.Connect(ctx, natsURL, "chaos-publisher")
	if err != nil {
		return err
	}
	defer nc.Close()
	pub := bus.NewPublisher(js)
	tick := time.NewTicker(time.Duration(float64(time.Second) * float64(per) / float64(rate)))
	defer tick.Stop()
	for i := 0; i < len(posts); i += per {
		chunk := posts[i:min(i+per, len(posts))]
		if err := pub.PublishPosts(ctx, chunk[0].Community, chunk[0].Source, fmt.Sprintf("chaos-%d", i), chunk...); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return pub.Flush(ctx)
}

// TestChaosClickHouseOutage30s: ClickHouse is unreachable for 30 s while posts keep
// arriving at 2,000 a second. JetStream holds the backlog, the processor's memory stays
// bounded while it waits, and afterwards everything is written exactly once.
func TestChaosClickHouseOutage30s(t *testing.T) {
	store := newNode(t, t.TempDir())
	store.start("serve")
	proxy := newProxy(t, store.chAddr)
	p := startChild(t, processorArgs(store, "http://"+proxy.addr+"/default")...)
	pid := p.cmd.Process.Pid

	const total, rate = 120000, 2000 // a minute of posts
	_, night := faultNight(t, 31, total)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	published := make(chan error, 1)
	go func() { published <- publishPaced(ctx, t, store.natsURL(), night, 50, rate) }()

	sample := func(d time.Duration) (peak float64) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			peak = max(peak, vmRSS(t, pid))
			time.Sleep(250 * time.Millisecond)
		}
		return peak
	}
	before := sample(10 * time.Second)
	proxy.down()
	outageStart := time.Now()
	during := sample(30 * time.Second)
	errorsDuring := metricAt(t, p.httpAddr, "chatnight_processor_write_errors_total")
	proxy.up()
	t.Logf("outage of %v under load", time.Since(outageStart).Round(time.Second))
	if err := <-published; err != nil {
		t.Fatalf("publishing: %v", err)
	}
	drained(t, store.natsURL(), 3*time.Minute)
	after := vmRSS(t, pid)
	t.Logf("processor VmRSS: before %.0f MiB (peak of 10 s under load), during the 30 s outage peak %.0f MiB, after draining %.0f MiB; %v write errors during the outage",
		before, during, after, errorsDuring)
	if errorsDuring < 2 {
		t.Errorf("the processor saw %v write errors during the outage; was ClickHouse really away?", errorsDuring)
	}
	if bound := max(2*before, before+256); during > bound {
		t.Errorf("processor memory grew to %.0f MiB during the outage (bound %.0f MiB): the backlog must stay in JetStream", during, bound)
	}
	checkExact(t, store.ch(context.Background()), "hitsm", expected(t, night))
}

// TestChaosDiskFull runs chatnight on a small tmpfs, fills it, and checks the failure
// is reported clearly, nothing stored is damaged, and after space is freed the posts
// sent again are stored exactly once.
func TestChaosDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestChaosDiskFull mounts a tmpfs and must run as root (make chaos under sudo)")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, mnt)
	n := newNode(t, filepath.Join(mnt, "data"))
	n.start("run")

	start1, night1 := faultNight(t, 41, 5000)
	chatnight(t, "simulate", "--community", "hitsm", "--seed", "41", "--posts", "5000", "--start", start1, "--nats-url", n.natsURL())
	drained(t, n.natsURL(), time.Minute)
	conn := n.ch(context.Background())
	checkExact(t, conn, "hitsm", expected(t, night1))

	// Fill the file system.
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
	var st syscall.Statfs_t
	syscall.Statfs(mnt, &st)
	t.Logf("data dir full: %d bytes free", st.Bavail*uint64(st.Bsize))

	// New posts: JetStream refuses them, or takes them and the processor cannot write
	// them; either way the failure is said clearly and nothing crashes.
	at := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	simArgs := []string{"simulate", "--community", "hcldr", "--seed", "42", "--posts", "3000", "--start", at.Format(time.RFC3339), "--nats-url", n.natsURL()}
	out, code := runChild(t, nil, simArgs...)
	t.Logf("simulate on a full disk: exit %d: %s", code, abbreviate(strings.TrimSpace(out)))
	waitFor(t, 60*time.Second, "the full disk to be reported", func() error {
		logs := n.out.String() + out
		for _, sign := range []string{"No space left", "no space left", "insufficient storage", "insufficient resources", "NOT_ENOUGH_SPACE", "storage"} {
			if strings.Contains(logs, sign) {
				return nil
			}
		}
		return fmt.Errorf("no message about the disk yet")
	})
	// Operators see it in /readyz too.
	resp, err := http.Get("http://" + n.httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "free in the data dir") {
		t.Errorf("/readyz on a full disk: %s %s", resp.Status, body)
	}
	select {
	case err := <-n.done:
		n.done <- err
		t.Fatalf("chatnight died on a full disk: %v", err)
	default:
	}

	// Free the space: what was stored is intact, and the new night, sent again, is
	// stored exactly once.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	chatnight(t, simArgs...)
	drained(t, n.natsURL(), 2*time.Minute)
	checkExact(t, conn, "hitsm", expected(t, night1))
	night2 := generateHCLDR(t, 42, 3000, at)
	checkExact(t, conn, "hcldr", expected(t, night2))
	n.stop()
	for _, line := range strings.Split(n.out.String(), "\n") {
		if strings.Contains(strings.ToLower(line), "space") {
			t.Logf("log: %s", abbreviate(line))
		}
	}
}

func generateHCLDR(t *testing.T, seed uint64, posts int, at time.Time) []*post.Post {
	t.Helper()
	cm, _ := community.Defaults().Lookup("hcldr")
	return simulator.Generate(simulator.Night{Community: cm, Seed: seed, Posts: posts, Start: at})
}

// TestChaosDiskFullDuringSimulate: the data dir's disk fills up while `simulate` publishes.
// simulate gets an error within seconds and exits non-zero instead of waiting in Flush;
// /readyz says the node is not ready; once space is freed JetStream stores again without a
// restart, and a night sent afterwards is stored exactly once.
func TestChaosDiskFullDuringSimulate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestChaosDiskFullDuringSimulate mounts a tmpfs and must run as root (make chaos under sudo)")
	}
	mnt := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, mnt)
	n := newNode(t, filepath.Join(mnt, "data"))
	n.start("run")

	// A long night at a steady rate, so the disk fills while it is being sent.
	sim := exec.Command(os.Args[0], "simulate", "--community", "hitsm", "--seed", "43", "--posts", "200000", "--rate", "2000",
		"--nats-url", n.natsURL())
	sim.Env = append(os.Environ(), envTestMain+"=1")
	simOut := &ingesttest.SyncBuffer{}
	sim.Stdout, sim.Stderr = simOut, simOut
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Wait() }()
	t.Cleanup(func() { _ = sim.Process.Kill() })
	waitFor(t, 60*time.Second, "simulate to publish", func() error {
		if !strings.Contains(simOut.String(), "posts published") {
			return fmt.Errorf("no progress yet: %q", simOut.String())
		}
		return nil
	})

	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
	full := time.Now()

	select {
	case err := <-simDone:
		if err == nil {
			t.Fatalf("simulate exited cleanly on a full disk:\n%s", simOut.String())
		}
		t.Logf("simulate stopped %v after the disk filled: %v: %s", time.Since(full).Round(time.Second), err,
			abbreviate(lastLine(simOut.String())))
	case <-time.After(60 * time.Second):
		t.Fatalf("simulate still running 60 s after the disk filled (stuck publishing?):\n%s", abbreviate(simOut.String()))
	}
	resp, err := http.Get("http://" + n.httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("/readyz on a full disk: %s %s", resp.Status, body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "JetStream ran out of disk space") {
		t.Errorf("/readyz on a full disk does not say JetStream stores nothing: %s %s", resp.Status, body)
	}

	// Space comes back: no restart, JetStream stores again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "/readyz to be ready again", func() error {
		resp, err := http.Get("http://" + n.httpAddr + "/readyz")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s", resp.Status, b)
		}
		return nil
	})
	at := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	chatnight(t, "simulate", "--community", "hcldr", "--seed", "44", "--posts", "2000", "--start", at.Format(time.RFC3339), "--nats-url", n.natsURL())
	drained(t, n.natsURL(), 2*time.Minute)
	checkExact(t, n.ch(context.Background()), "hcldr", expected(t, generateHCLDR(t, 44, 2000, at)))
	n.stop()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// mountTmpfs mounts a 256 MiB tmpfs on mnt for the test.
func mountTmpfs(t *testing.T, mnt string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("cannot mount a tmpfs for the data dir (this test needs root and mount permission): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
}

// fillDisk writes filler until its file system is full.
func fillDisk(t *testing.T, filler string) {
	t.Helper()
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
	f.Close()
}
