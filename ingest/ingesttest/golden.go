package ingesttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
)

// update is the -update flag of every source's tests.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Testdata reads testdata/name.
func Testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden compares got with testdata/golden/name, or rewrites that file when the tests
// run with -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// GoldenFiles parses each testdata/dir/*.json in a subtest named after the file and
// compares the posts with testdata/golden/<file>. parse checks what it must of the
// posts and returns them, or false when the file is one the source ignores (no golden
// file then).
func GoldenFiles(t *testing.T, dir string, parse func(t *testing.T, name string, raw []byte) ([]*post.Post, bool)) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in testdata/%s: %v", dir, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			if posts, ok := parse(t, name, Testdata(t, filepath.Join(dir, name))); ok {
				Golden(t, name, PostsJSON(t, posts))
			}
		})
	}
}

// CheckErr fails t unless err is nil when want is empty, or says want otherwise.
func CheckErr(t testing.TB, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

// Time parses an RFC 3339 time of a test table; a typo panics.
func Time(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// withoutRaw copies posts without their Raw payload, which tests check on their own.
func withoutRaw(posts []*post.Post) []*post.Post {
	out := make([]*post.Post, len(posts))
	for i, p := range posts {
		cp := *p
		cp.Raw = nil
		out[i] = &cp
	}
	return out
}

// SortedIDs returns the posts' ids in order, for comparing sets of posts.
func SortedIDs(posts []*post.Post) []string {
	out := make([]string, 0, len(posts))
	for _, p := range posts {
		out = append(out, p.ID)
	}
	slices.Sort(out)
	return out
}

// PostsJSON renders posts, without Raw, as an indented JSON array for a golden file.
func PostsJSON(t testing.TB, posts []*post.Post) []byte {
	t.Helper()
	b, err := json.MarshalIndent(withoutRaw(posts), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// PostsLines renders posts, without Raw, in their wire encoding (JSON Lines) for a
// golden file.
func PostsLines(t testing.TB, posts []*post.Post) []byte {
	t.Helper()
	b, err := post.Encode(nil, withoutRaw(posts)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
