package mastodon

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chatnight/chatnight/pipeline/post"
)

type archiveResult struct {
	ids    []string // post ids, in order
	bad    []string // origins of bad records
	fatal  error
	record []ArchiveRecord
}

func readAll(t *testing.T, r io.Reader) archiveResult {
	t.Helper()
	var res archiveResult
	for rec, err := range ReadArchive(r) {
		var bre *BadRecordError
		switch {
		case errors.As(err, &bre):
			res.bad = append(res.bad, bre.Record.Origin())
			if len(bre.Record.Raw) == 0 {
				t.Errorf("bad record %s carries no raw bytes", bre.Record.Origin())
			}
			continue
		case err != nil:
			if res.fatal != nil {
				t.Errorf("a second fatal error: %v", err)
			}
			res.fatal = err
			continue
		}
		res.record = append(res.record, rec)
		posts, err := ParseStatus(rec.Raw, post.SourceImport)
		if err != nil {
			t.Errorf("%s: %v", rec.Origin(), err)
			continue
		}
		for _, p := range posts {
			res.ids = append(res.ids, p.ID)
		}
	}
	return res
}

func TestReadArchive(t *testing.T) {
	const (
		s1 = "mastodon:https://healthcare.example/users/colin/statuses/1"
		s2 = "mastodon:https://nurses.example/users/ana/statuses/2"
		s3 = "mastodon:https://healthcare.example/users/joe/statuses/3"
	)
	tests := []struct {
		file    string
		wantIDs []string
		wantBad []string
	}{
		{"array.json", []string{s1, s2}, []string{"offset 602"}}, // 42 is not a status (602: the comma before it)
		{"lines.jsonl", []string{s1, s2, s3}, []string{"line 4"}},
		{"pages.json", []string{s1, s2, s3}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "archive", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res := readAll(t, f)
			if res.fatal != nil {
				t.Fatalf("fatal: %v", res.fatal)
			}
			eq(t, "ids", res.ids, tc.wantIDs)
			eq(t, "bad", res.bad, tc.wantBad)
			for i, r := range res.record {
				if i > 0 && r.Index <= res.record[i-1].Index {
					t.Errorf("record indexes not increasing: %d after %d", r.Index, res.record[i-1].Index)
				}
			}
		})
	}
}

func TestReadArchiveLineSeparatorsStayInText(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "archive", "lines.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for rec, err := range ReadArchive(f) {
		if err != nil {
			continue
		}
		posts, err := ParseStatus(rec.Raw, post.SourceImport)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "text", posts[0].Text, "Welcome to #hcldr\u2028line\u2029para")
		eq(t, "line", rec.Line, 1)
		return
	}
	t.Fatal("no record")
}

func TestReadArchiveEdges(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantIDs   int
		wantBad   int
		wantFatal string
	}{
		{"empty", "", 0, 0, ""},
		{"only space", " \n\r\n\t", 0, 0, ""},
		{"empty array", "[]", 0, 0, ""},
		{"broken array", `[{"id":"1","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob@a.example"}}, {"id":`, 1, 0, "archive JSON broken"},
		{"status over the limit", `[` + `"` + strings.Repeat("a", MaxLineBytes+2<<20) + `"]`, 0, 0, "over 67108864 bytes"},
		{"array of junk", `[1, "x", null]`, 0, 3, ""},
		{"line that is a number", "7\n", 0, 1, ""},
		{"no final newline", `{"id":"1","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob@a.example"}}`, 1, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := readAll(t, strings.NewReader(tc.in))
			eq(t, "posts", len(res.ids), tc.wantIDs)
			eq(t, "bad", len(res.bad), tc.wantBad)
			switch {
			case tc.wantFatal == "" && res.fatal != nil:
				t.Errorf("fatal: %v", res.fatal)
			case tc.wantFatal != "" && (res.fatal == nil || !strings.Contains(res.fatal.Error(), tc.wantFatal)):
				t.Errorf("fatal = %v, want %q", res.fatal, tc.wantFatal)
			}
		})
	}
}

func TestReadArchiveReadError(t *testing.T) {
	boom := errors.New("disk gone")
	good := `{"id":"1","uri":"https://a.example/s/1","created_at":"2024-10-22T00:36:30Z","account":{"id":"2","acct":"bob@a.example"}}` + "\n"
	r := io.MultiReader(strings.NewReader(good), iotest.ErrReader(boom))
	res := readAll(t, r)
	eq(t, "posts before the failure", len(res.ids), 1)
	if !errors.Is(res.fatal, boom) {
		t.Errorf("fatal = %v, want %v", res.fatal, boom)
	}
}

func TestReadArchiveStopsWhenAsked(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "archive", "pages.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for range ReadArchive(f) {
		n++
		break
	}
	eq(t, "records read", n, 1)
}
