package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// cpuBudget splits the CPU the process spends during the end-to-end run into stages,
// per post: a CPU profile of the Go side (stages are pprof labels set by the processor,
// the thread look-ups and the embedded endpoint, whose engine calls run on the calling
// goroutine), and the engine's own threads (merges, parallel pipelines) read from
// /proc, where they carry their ClickHouse names.
type cpuBudget struct {
	prof    bytes.Buffer
	threads map[string]time.Duration
	start   time.Time
}

// budgetLine is one stage of the budget.
type budgetLine struct {
	Stage         string  `json:"stage"`
	CPUUsPerPost  float64 `json:"cpu_us_per_post"`
	SharePercent  float64 `json:"share_percent"`
	notOfPipeline bool
}

func startBudget() (*cpuBudget, error) {
	b := &cpuBudget{threads: engineThreadCPU(), start: time.Now()}
	if err := pprof.StartCPUProfile(&b.prof); err != nil {
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return b, nil
}

// stop ends the profile and returns the budget per post; the raw profile is written to
// profilePath when it is set (go tool pprof -tagfocus reads the stage labels).
func (b *cpuBudget) stop(posts int64, profilePath string) ([]budgetLine, error) {
	pprof.StopCPUProfile()
	if profilePath != "" {
		if err := os.WriteFile(profilePath, b.prof.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("write CPU profile: %w", err)
		}
	}
	if posts <= 0 {
		return nil, nil
	}
	p, err := profile.Parse(&b.prof)
	if err != nil {
		return nil, fmt.Errorf("read CPU profile: %w", err)
	}
	cpu := map[string]time.Duration{}
	for _, s := range p.Sample {
		stage := sampleStage(s)
		if stage == "" {
			continue
		}
		cpu[stage] += time.Duration(s.Value[len(s.Value)-1])
	}
	for name, d := range engineThreadCPU() {
		if d -= b.threads[name]; d > 0 {
			cpu[engineThreadStage(name)] += d
		}
	}
	var total time.Duration
	for stage, d := range cpu {
		if stage != stageLoad {
			total += d
		}
	}
	var out []budgetLine
	for stage, d := range cpu {
		l := budgetLine{Stage: stage, CPUUsPerPost: round(float64(d.Microseconds())/float64(posts), 2), notOfPipeline: stage == stageLoad}
		if total > 0 && !l.notOfPipeline {
			l.SharePercent = round(100*float64(d)/float64(total), 1)
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].notOfPipeline != out[j].notOfPipeline {
			return !out[i].notOfPipeline
		}
		return out[i].CPUUsPerPost > out[j].CPUUsPerPost
	})
	out = append(out, budgetLine{Stage: stageTotal, CPUUsPerPost: round(float64(total.Microseconds())/float64(posts), 2), SharePercent: 100})
	return out, nil
}

const (
	stageLoad  = "load generator (simulating posts; not the pipeline)"
	stageTotal = "total (pipeline)"
)

// stageNames turns the pprof stage labels into budget lines.
var stageNames = map[string]string{
	"simulate":     stageLoad,
	"publish":      "NATS publish (client)",
	"decode":       "decode (post wire codec)",
	"derive":       "derive (Go)",
	"lookup":       "thread look-ups (client: query, decode rows)",
	"reconcile":    "reconcile (Go)",
	"write":        "Native encode + HTTP client (clickhouse-go)",
	"ack":          "NATS ack (client)",
	"announce":     "live announce (encode + publish)",
	"endpoint":     "endpoint (HTTP, spool, transcode)",
	"engine query": "engine: thread look-up queries",
}

func sampleStage(s *profile.Sample) string {
	if l := s.Label[storage.StageLabel]; len(l) > 0 {
		if name, ok := stageNames[l[0]]; ok {
			return name
		}
		if t, ok := strings.CutPrefix(l[0], "engine insert "); ok {
			// The stream insert runs on an engine thread: this is only the calling side.
			return "engine: insert " + strings.TrimPrefix(t, "chatnight.") + " (calling thread)"
		}
		return l[0]
	}
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			fn := line.Function.Name
			switch {
			case fn == "runtime._ExternalCode":
				return "" // a thread of the engine's own: counted from /proc
			case strings.Contains(fn, "nats-io/nats-server"):
				return "NATS server: store and deliver"
			case strings.Contains(fn, "nats-io/nats.go"):
				return "NATS client: pull, ack, publish acks"
			case strings.HasPrefix(fn, "runtime.gcBgMarkWorker"), strings.HasPrefix(fn, "runtime.bgsweep"), strings.HasPrefix(fn, "runtime.bgscavenge"):
				return "Go GC (background)"
			}
		}
	}
	return "other Go (HTTP server, timers, metrics)"
}

// engineThreadStage names the budget line of an engine thread by its ClickHouse name.
func engineThreadStage(name string) string {
	if strings.HasPrefix(name, "MergeMutate") || strings.HasPrefix(name, "Merge") {
		return "engine: background merges"
	}
	return "engine: worker threads (inserts with their views, pipelines)"
}

// engineThreadCPU sums the CPU time of the process's threads that are not Go's (those
// carry the process name), by thread name.
func engineThreadCPU() map[string]time.Duration {
	self, _ := os.ReadFile("/proc/self/comm")
	goName := strings.TrimSpace(string(self))
	tasks, _ := filepath.Glob("/proc/self/task/*")
	out := map[string]time.Duration{}
	for _, t := range tasks {
		comm, err1 := os.ReadFile(t + "/comm")
		stat, err2 := os.ReadFile(t + "/stat")
		if err1 != nil || err2 != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		if name == goName {
			continue
		}
		// Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[name] += time.Duration(ut+st) * time.Second / clockTicks
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc CPU times: 100 on every Linux port Go runs on.
const clockTicks = 100

func printBudget(w io.Writer, lines []budgetLine) {
	fmt.Fprintf(w, "bench: CPU budget of the end-to-end run, per post committed (all cores):\n")
	for _, l := range lines {
		share := fmt.Sprintf("%5.1f%%", l.SharePercent)
		if l.notOfPipeline {
			share = "     -"
		}
		fmt.Fprintf(w, "bench:   %8.2f µs  %s  %s\n", l.CPUUsPerPost, share, l.Stage)
	}
}
