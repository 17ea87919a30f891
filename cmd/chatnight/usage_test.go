package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/pipeline/bus/bustest"
)

// runMain runs chatnight in-process with separate stdout and stderr.
func runMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestUsageErrorsSayWhy: a command line that cannot work exits 2 with the reason and
// where the help is, on stderr.
func TestUsageErrorsSayWhy(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "--community", "hcldr", "file.jsonl"}, "--format is required: one of jetstream, mastodon, tags-csv, x-compliance, x-v1, x-v2"},
		{[]string{"import", "--format", "x-v2", "file.jsonl"}, "--community is required"},
		{[]string{"import", "--community", "hcldr", "--format", "x-v2"}, "no FILE given"},
		{[]string{"import", "--community", "hcldr", "--format", "x-v9", "f"}, `unknown archive format "x-v9"`},
		{[]string{"import", "--community", "hcldr", "--nosuch", "f"}, "flag provided but not defined: -nosuch"},
		{[]string{"simulate"}, "--community is required"},
		{[]string{"report"}, "--community is required"},
		{[]string{"report", "--community", "hcldr", "--format", "pdf"}, `--format "pdf": use text, json or md`},
		{[]string{"optout"}, "say add, remove or list"},
		{[]string{"optout", "add"}, "optout add takes one HANDLE, got 0"},
		{[]string{"optout", "frobnicate", "x"}, `unknown action "frobnicate"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, code := runMain(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "Run 'chatnight "+tc.args[0]+" --help'") {
				t.Errorf("stderr lacks %q and the pointer to --help:\n%s", tc.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

// TestHelpOnStdout: help is asked for, so it goes to stdout and exits 0; it states
// the real --nats-url default of the commands that connect to a running server.
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"import", "--help"}, {"simulate", "-h"}, {"run", "--help"}, {"optout", "--help"}} {
		stdout, stderr, code := runMain(t, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage: chatnight") {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q", args, code, len(stdout), stderr)
		}
	}
	for _, cmd := range []string{"import", "simulate"} {
		stdout, _, _ := runMain(t, cmd, "--help")
		if strings.Contains(stdout, "embedded server") || !strings.Contains(stdout, `(default "nats://127.0.0.1:4222")`) {
			t.Errorf("%s --help misstates the --nats-url default:\n%s", cmd, stdout)
		}
	}
	stdout, _, _ := runMain(t, "run", "--help")
	if !strings.Contains(stdout, "empty: start an embedded server") {
		t.Errorf("run --help lost the embedded default:\n%s", stdout)
	}
	if _, stderr, code := runMain(t); code != 2 || !strings.Contains(stderr, "Usage: chatnight COMMAND") {
		t.Errorf("no command: exit %d, stderr %q", code, stderr)
	}
}

// TestImportOutputOnce: the summary is printed once, on stdout, says "published", and a
// flag after the file is taken; a missing file is one line.
func TestImportOutputOnce(t *testing.T) {
	n := bustest.Start(t)
	file := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(file, []byte(`{"id":"1780390000000000001","author_id":"9001","text":"A1 yes #hcldr","created_at":"2024-04-17T00:40:00.000Z"}`+"\n"), 0o644)
	stdout, stderr, code := runMain(t, "import", "--community", "hcldr", file, "--format", "x-v2", "--nats-url", n.URL)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout != "import: published 1 posts from 1 file(s): 1 records read, 0 duplicates, 0 invalid\n" {
		t.Errorf("stdout = %q", stdout)
	}
	if strings.Contains(stderr, "published") {
		t.Errorf("summary repeated on stderr: %q", stderr)
	}
	stdout, _, _ = runMain(t, "import", "--community", "hcldr", "--format", "x-v2", "--nats-url", n.URL, file)
	if !strings.Contains(stdout, "published 0 posts") || !strings.Contains(stdout, "1 duplicates") {
		t.Errorf("re-import said %q", stdout)
	}

	missing := filepath.Join(t.TempDir(), "nope.jsonl")
	stdout, stderr, code = runMain(t, "import", "--community", "hcldr", "--format", "x-v2", "--nats-url", n.URL, missing)
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "nope.jsonl: no such file") {
		t.Errorf("missing file: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
}
