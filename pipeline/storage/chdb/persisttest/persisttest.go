// Package persisttest checks that data outlives the process that wrote it: the test
// binary runs itself twice as a child, first to write into a data directory, then to
// read it back in a fresh process (chDB runs one engine per process).
package persisttest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const (
	modeEnv = "CHATNIGHT_PERSIST_HELPER"
	dirEnv  = "CHATNIGHT_PERSIST_DIR"
)

// Run runs the test binary twice on one new directory, in mode "write" and then "read".
// Each child must exit 0 and print "helper <mode> ok".
func Run(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, mode := range []string{"write", "read"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), modeEnv+"="+mode, dirEnv+"="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper %s: %v\n%s", mode, err, out)
		}
		if !strings.Contains(string(out), "helper "+mode+" ok") {
			t.Fatalf("helper %s did not finish:\n%s", mode, out)
		}
	}
}

// Child, called first in TestMain, runs helper and exits with its code when this
// process is a child that Run started; otherwise it returns at once.
func Child(helper func(mode, dir string) int) {
	if mode := os.Getenv(modeEnv); mode != "" {
		os.Exit(helper(mode, os.Getenv(dirEnv)))
	}
}
