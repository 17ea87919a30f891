package main

import (
	"context"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/chatnight/chatnight/pipeline/storage"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestSampleStage(t *testing.T) {
	fn := func(name string) *profile.Location {
		return &profile.Location{Line: []profile.Line{{Function: &profile.Function{Name: name}}}}
	}
	for _, tc := range []struct {
		name   string
		sample *profile.Sample
		want   string
	}{
		{"labelled stage", &profile.Sample{Label: map[string][]string{storage.StageLabel: {"decode"}}}, "decode (post wire codec)"},
		{"engine insert", &profile.Sample{Label: map[string][]string{storage.StageLabel: {"engine insert chatnight.posts"}}}, "engine: insert posts (calling thread)"},
		{"NATS server", &profile.Sample{Location: []*profile.Location{fn("runtime.memmove"), fn("github.com/nats-io/nats-server/v2/server.(*fileStore).StoreMsg")}}, "NATS server: store and deliver"},
		{"GC", &profile.Sample{Location: []*profile.Location{fn("runtime.scanObject"), fn("runtime.gcBgMarkWorker")}}, "Go GC (background)"},
		{"engine thread", &profile.Sample{Location: []*profile.Location{{}, fn("runtime._ExternalCode")}}, ""},
		{"anything else", &profile.Sample{Location: []*profile.Location{fn("net/http.(*conn).serve")}}, "other Go (HTTP server, timers, metrics)"},
	} {
		if got := sampleStage(tc.sample); got != tc.want {
			t.Errorf("%s: stage %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestBudgetSplitsLabelledCPU: CPU burnt under a stage label shows up as that stage's
// cost per post, and the total covers it.
func TestBudgetSplitsLabelledCPU(t *testing.T) {
	b, err := startBudget()
	if err != nil {
		t.Fatal(err)
	}
	before := processCPU()
	pprof.Do(context.Background(), pprof.Labels(storage.StageLabel, "derive"), func(context.Context) {
		x := 0
		for start := processCPU(); processCPU()-start < 300*time.Millisecond; {
			for i := range 100000 {
				x += i * i
			}
		}
		_ = x
	})
	used := processCPU() - before
	lines, err := b.stop(1000, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, l := range lines {
		got[l.Stage] = l.CPUUsPerPost
	}
	// The process's CPU over 1,000 posts; profiling samples at 100 Hz, so allow for
	// sampling error.
	want := float64(used.Microseconds()) / 1000
	if d := got["derive (Go)"]; d < want/2 || d > want*1.5 {
		t.Errorf("derive got %.1f µs per post, want about %.1f: %+v", d, want, lines)
	}
	if got[stageTotal] < got["derive (Go)"] {
		t.Errorf("total %.1f below one stage's %.1f", got[stageTotal], got["derive (Go)"])
	}
}
