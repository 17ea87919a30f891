package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

var hcldr = &community.Community{ID: "hcldr", Hashtags: []string{"hcldr"}}

type env struct {
	nats *bustest.Env
	log  *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{nats: bustest.Start(t), log: &bytes.Buffer{}}
}

// emitter is a fresh Emitter, as each `chatnight import` run has its own.
func (e *env) emitter() *ingest.Emitter {
	return ingest.NewEmitter(e.nats.JS, nil, slog.New(slog.NewTextHandler(e.log, nil)))
}

func (e *env) importFiles(t *testing.T, opts Options, files ...string) (Summary, string) {
	t.Helper()
	var out bytes.Buffer
	if opts.Community == nil {
		opts.Community = hcldr
	}
	opts.Progress = &out
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := Import(ctx, opts, e.emitter(), files...)
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, out.String())
	}
	return sum, out.String()
}

// posts reads every post published for community from an import.
func (e *env) posts(t *testing.T, communityID string) []*post.Post {
	t.Helper()
	subj := bus.PostsSubject(communityID, post.SourceImport)
	msgs := e.nats.Messages(t, bus.PostsStream, subj, e.nats.Count(t, bus.PostsStream, subj), 5*time.Second)
	var out []*post.Post
	for _, m := range msgs {
		ps, bad := bus.DecodePosts(m.Headers(), m.Data())
		if len(bad) > 0 {
			t.Fatalf("bad line in %s: %v", m.Subject(), bad[0].Err)
		}
		if n, _ := strconv.Atoi(m.Headers().Get(bus.HeaderBatchPosts)); len(ps) > 1 && n != len(ps) {
			t.Errorf("message says %d posts, carries %d", n, len(ps))
		}
		if !strings.HasPrefix(m.Headers().Get(jetstream.MsgIDHeader), "import-") {
			t.Errorf("message id %q", m.Headers().Get(jetstream.MsgIDHeader))
		}
		out = append(out, ps...)
	}
	return out
}

func find(posts []*post.Post, id string) *post.Post {
	for _, p := range posts {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func TestImportEachFormatAndReimport(t *testing.T) {
	for _, tc := range []struct {
		format, file string
		want         Summary
		wantIDs      []string
		invalidLines []int
	}{
		{
			format: "x-v2", file: "hcldr_v2.jsonl",
			want: Summary{Files: 1, Read: 6, Published: 9, Duplicates: 1, Invalid: 2},
			wantIDs: []string{"x:1780370000000000050", "x:1780380000000000101", "x:1780380000000000102", "x:1780380000000000103", "x:1780380000000000104",
				"x:1780380000000000105", "x:1780380000000000106", "x:1780380000000000107", "x:1780380000000000108"},
			invalidLines: []int{2, 7},
		},
		{
			format: "x-v1", file: "hcldr_v1.json",
			want:         Summary{Files: 1, Read: 6, Published: 6, Invalid: 1},
			wantIDs:      []string{"x:1780370000000000050", "x:1780380000000000101", "x:1780380000000000102", "x:1780380000000000103", "x:1780380000000000104", "x:1780380000000000105"},
			invalidLines: []int{151}, // where the array element starts
		},
		{
			format: "tags-csv", file: "hcldr_tags.csv",
			want:         Summary{Files: 1, Read: 8, Published: 5, Duplicates: 1, Invalid: 2},
			wantIDs:      []string{"x:1780380000000000101", "x:1780380000000000102", "x:1780380000000000103", "x:1780380000000000104", "x:1780380000000000106"},
			invalidLines: []int{8, 10},
		},
		{
			format: "mastodon", file: "hcldr_mastodon.json",
			// the reblog carries its original again: one duplicate
			want: Summary{Files: 1, Read: 3, Published: 3, Duplicates: 1},
			wantIDs: []string{"mastodon:https://fosstodon.org/users/dave/statuses/112300000000000099/activity",
				"mastodon:https://masto.ai/users/bob/statuses/112300000000000002",
				"mastodon:https://mastodon.social/users/carol/statuses/112300000000000001"},
		},
		{
			format: "jetstream", file: "hcldr_jetstream.jsonl",
			// the like and the identity event give no post
			want: Summary{Files: 1, Read: 5, Published: 2, Invalid: 1},
			wantIDs: []string{"bluesky:at://did:plc:hcldrbob000000000000000/app.bsky.feed.repost/3kqa2cabc2c2b",
				"bluesky:at://did:plc:hcldrcarol0000000000000/app.bsky.feed.post/3kqa2bxyz2c2b"},
			invalidLines: []int{3},
		},
	} {
		t.Run(tc.format, func(t *testing.T) {
			e := newEnv(t)
			file := filepath.Join("testdata", tc.file)
			sum, out := e.importFiles(t, Options{Format: tc.format, BatchSize: 4}, file)
			if sum != tc.want {
				t.Errorf("summary = %+v, want %+v", sum, tc.want)
			}
			if strings.Contains(out, "published") {
				t.Errorf("Import printed the summary; the command prints it once:\n%s", out)
			}
			posts := e.posts(t, "hcldr")
			if got := ingesttest.SortedIDs(posts); !slices.Equal(got, tc.wantIDs) {
				t.Errorf("published %v, want %v", got, tc.wantIDs)
			}
			for _, p := range posts {
				if p.Community != "hcldr" || p.Source != post.SourceImport || p.Validate() != nil || len(p.Raw) == 0 {
					t.Errorf("post %s: community %q source %q raw %d bytes", p.ID, p.Community, p.Source, len(p.Raw))
				}
			}
			if tc.format == "mastodon" {
				// bob's reply names carol's status by its local id: the file itself resolves it.
				for _, p := range posts {
					if p.ID == "mastodon:https://masto.ai/users/bob/statuses/112300000000000002" && p.ReplyToID != "mastodon:https://mastodon.social/users/carol/statuses/112300000000000001" {
						t.Errorf("reply's parent = %q, want carol's status", p.ReplyToID)
					}
				}
			}
			// Malformed records are parked with their bytes and file:line.
			dl := e.nats.Messages(t, bus.DeadLetterStream, ">", len(tc.invalidLines), 5*time.Second)
			if len(dl) != len(tc.invalidLines) {
				t.Fatalf("dead letters = %d, want %d", len(dl), len(tc.invalidLines))
			}
			lines := strings.Split(readFile(t, file), "\n")
			for i, m := range dl {
				wantOrigin := file + ":" + strconv.Itoa(tc.invalidLines[i])
				if m.Subject() != "deadletter.ingest.import" || m.Headers().Get(bus.HeaderOrigin) != wantOrigin || m.Headers().Get(bus.HeaderError) == "" {
					t.Errorf("dead letter %d: subject %s origin %q error %q, want origin %q", i, m.Subject(), m.Headers().Get(bus.HeaderOrigin), m.Headers().Get(bus.HeaderError), wantOrigin)
				}
				if tc.format == "x-v1" {
					if !json.Valid(m.Data()) || !strings.Contains(string(m.Data()), `"id_str": "1780380000000000150"`) {
						t.Errorf("dead letter payload %q, want the array element", m.Data())
					}
				} else if string(m.Data()) != strings.TrimSpace(lines[tc.invalidLines[i]-1]) {
					t.Errorf("dead letter %d payload %q, want line %d as in the file", i, m.Data(), tc.invalidLines[i])
				}
			}

			// Importing the same file again adds nothing: JetStream drops every batch.
			msgs := e.nats.Count(t, bus.PostsStream, ">")
			again, _ := e.importFiles(t, Options{Format: tc.format, BatchSize: 4}, file)
			want := tc.want
			want.Duplicates, want.Published = tc.want.Duplicates+tc.want.Published, 0
			if again != want {
				t.Errorf("re-import summary = %+v, want %+v", again, want)
			}
			if got := e.nats.Count(t, bus.PostsStream, ">"); got != msgs {
				t.Errorf("posts stream has %d messages after re-import, had %d", got, msgs)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImportFields(t *testing.T) {
	e := newEnv(t)
	e.importFiles(t, Options{Format: "x-v2"}, "testdata/hcldr_v2.jsonl")
	posts := e.posts(t, "hcldr")
	rt := find(posts, "x:1780380000000000102")
	want := post.Post{
		ID: "x:1780380000000000102", Source: post.SourceImport, Community: "hcldr", Kind: post.KindRepost,
		Author:    post.Account{ID: "x:9003", Handle: "dave_it", Name: "Dave"},
		CreatedAt: time.Date(2024, 4, 17, 0, 31, 0, 0, time.UTC),
		Text:      "RT @bob_rn: Leaders: what would change if patients sat on every board? Long thought thread ahead for #hc…",
		Lang:      "en", URL: "https://x.com/dave_it/status/1780380000000000102", RootID: "x:1780380000000000102",
		RepostOfID: "x:1780370000000000050", RepostOfAuthorID: "x:9002",
		Mentions: []post.Account{{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN"}},
		Hashtags: []string{"hcldr", "patientvoice"},
	}
	got := *rt
	got.Raw = nil
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("created_at = %v", got.CreatedAt)
	}
	got.CreatedAt = want.CreatedAt
	if !equalPosts(&got, &want) {
		t.Errorf("retweet = %+v\nwant       %+v", got, want)
	}
	if r := find(posts, "x:1780380000000000107"); r == nil || r.Kind != post.KindReply || r.ReplyToID != "x:1780380000000000103" || r.ReplyToAuthorID != "x:9002" || r.RootID != "x:1780380000000000101" {
		t.Errorf("reply = %+v", r)
	}
}

func equalPosts(a, b *post.Post) bool {
	ea, _ := post.Encode(nil, a)
	eb, _ := post.Encode(nil, b)
	return bytes.Equal(ea, eb)
}

func TestImportMatchHashtagsStdinGzipAndBatches(t *testing.T) {
	e := newEnv(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(readFile(t, "testdata/hcldr_v2.jsonl")))
	zw.Close()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := Import(ctx, Options{
		Community: hcldr, Format: "x-v2", MatchHashtags: true, BatchSize: 2,
		Stdin: &gz, Progress: &out,
	}, e.emitter(), "-")
	if err != nil {
		t.Fatal(err)
	}
	// 106 and 107 carry no #hcldr
	want := Summary{Files: 1, Read: 6, Published: 7, Duplicates: 1, Invalid: 2, Skipped: 2}
	if sum != want {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	if got := e.nats.Count(t, bus.PostsStream, ">"); got != 4 {
		t.Errorf("messages = %d, want 4 (7 posts in batches of 2)", got)
	}
	if find(e.posts(t, "hcldr"), "x:1780380000000000106") != nil {
		t.Error("post without the hashtag was imported")
	}
	dl := e.nats.Messages(t, bus.DeadLetterStream, ">", 2, 5*time.Second)
	if len(dl) != 2 || dl[0].Headers().Get(bus.HeaderOrigin) != "stdin:2" {
		t.Errorf("dead letters from stdin: %d, first origin %q", len(dl), dl[0].Headers().Get(bus.HeaderOrigin))
	}

	// A byte cap splits batches too; the same cap gives the same batches again.
	e2 := newEnv(t)
	sum, _ = e2.importFiles(t, Options{Format: "x-v2", MaxBatchBytes: 4 << 10}, "testdata/hcldr_v2.jsonl")
	msgs := e2.nats.Count(t, bus.PostsStream, ">")
	if sum.Published != 9 || msgs < 3 {
		t.Errorf("imported %d posts in %d messages, want 9 in several", sum.Published, msgs)
	}
	for _, m := range e2.nats.Messages(t, bus.PostsStream, ">", msgs, 5*time.Second) {
		if ps, _ := bus.DecodePosts(m.Headers(), m.Data()); len(m.Data()) > 4<<10 && len(ps) > 1 {
			t.Errorf("message of %d bytes with %d posts over the cap", len(m.Data()), len(ps))
		}
	}
	again, _ := e2.importFiles(t, Options{Format: "x-v2", MaxBatchBytes: 4 << 10}, "testdata/hcldr_v2.jsonl")
	if again.Published != 0 || again.Duplicates != 10 {
		t.Errorf("re-import = %+v", again)
	}
}

func TestImportProgress(t *testing.T) {
	e := newEnv(t)
	_, term := e.importFiles(t, Options{Format: "tags-csv", IsTerminal: true, ProgressEvery: time.Nanosecond}, "testdata/hcldr_tags.csv")
	if !strings.Contains(term, "\r\033[K") || !strings.Contains(term, "100%") || !strings.Contains(term, "[========================]") || !strings.Contains(term, "records/s") || !regexp.MustCompile(`  done in [0-9.]+m?s\n$`).MatchString(term) {
		t.Errorf("terminal progress:\n%q", term)
	}
	_, plain := e.importFiles(t, Options{Format: "tags-csv", ProgressEvery: time.Nanosecond}, "testdata/hcldr_tags.csv")
	if strings.Contains(plain, "\r") || strings.Count(plain, "\n") < 3 || !strings.Contains(plain, "testdata/hcldr_tags.csv ") {
		t.Errorf("plain progress:\n%s", plain)
	}
	_, quiet := e.importFiles(t, Options{Format: "tags-csv"}, "testdata/hcldr_tags.csv")
	if quiet != "" {
		t.Errorf("a short import off a terminal prints no progress:\n%s", quiet)
	}
}

func TestProgressLine(t *testing.T) {
	now := time.Date(2024, 4, 17, 0, 30, 0, 0, time.UTC)
	var out bytes.Buffer
	p := newProgress(&out, true, time.Second)
	p.now = func() time.Time { return now }
	p.startFile("big.jsonl", 4<<20)
	now = now.Add(500 * time.Millisecond)
	p.update(1<<20, Summary{Read: 1000})
	if out.Len() != 0 {
		t.Fatalf("drew before the interval: %q", out.String())
	}
	now = now.Add(1500 * time.Millisecond)
	p.update(1<<20, Summary{Read: 4000, Invalid: 1})
	want := "\r\033[Kbig.jsonl [======                  ]  25% 1.0 MiB/4.0 MiB  4000 records, 1 invalid  2000 records/s  ETA 6s"
	if out.String() != want {
		t.Errorf("bar = %q\nwant  %q", out.String(), want)
	}
	out.Reset()
	p.terminal = false
	now = now.Add(2 * time.Second)
	p.update(2<<20, Summary{Read: 8000})
	if want := "big.jsonl  50% 2.0 MiB/4.0 MiB  8000 records, 0 invalid  2000 records/s  ETA 4s\n"; out.String() != want {
		t.Errorf("line = %q\nwant   %q", out.String(), want)
	}
	out.Reset()
	p.startFile("stdin", 0)
	now = now.Add(2 * time.Second)
	p.update(3<<30, Summary{Read: 10})
	if want := "stdin 3.0 GiB  10 records, 0 invalid  5 records/s\n"; out.String() != want {
		t.Errorf("unknown size = %q\nwant           %q", out.String(), want)
	}
}

func TestImportErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		opts  Options
		files []string
		want  string
	}{
		{"no community", Options{Format: "x-v2"}, []string{"x"}, "no community"},
		{"bad community", Options{Community: &community.Community{ID: "Bad Id"}, Format: "x-v2"}, []string{"x"}, "community id"},
		{"no format", Options{Community: hcldr}, []string{"x"}, "x-v1, x-v2"},
		{"unknown format", Options{Community: hcldr, Format: "csv"}, []string{"x"}, `unknown archive format "csv"`},
		{"no files", Options{Community: hcldr, Format: "x-v2"}, nil, "no files"},
		{"missing file", Options{Community: hcldr, Format: "x-v2"}, []string{"testdata/nope.jsonl"}, "nope.jsonl"},
		{"not a TAGS file", Options{Community: hcldr, Format: "tags-csv"}, []string{"testdata/hcldr_v2.jsonl"}, "lacks column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(ctx, tc.opts, e.emitter(), tc.files...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A broken JSON array stops that file; what came before it is imported.
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`[{"id": "1", "author_id": "2", "text": "ok #hcldr", "created_at": "2024-04-17T00:30:00Z"}, {"id": `), 0o644)
	sum, err := Import(ctx, Options{Community: hcldr, Format: "x-v2"}, e.emitter(), broken)
	if err == nil || !strings.Contains(err.Error(), "broken") || sum.Published != 1 {
		t.Fatalf("broken array: %+v, %v", sum, err)
	}
}

// TestImportLargeLine imports a twarc2 page of over 400 KB on one line.
func TestImportLargeLine(t *testing.T) {
	var data []map[string]any
	pad := strings.Repeat("context ", 300)
	for i := range 200 {
		data = append(data, map[string]any{
			"id": strconv.Itoa(1780390000000000000 + i), "author_id": "9001", "text": "T1 #hcldr " + strconv.Itoa(i),
			"created_at": "2024-04-17T00:40:00.000Z", "entities": map[string]any{"hashtags": []map[string]any{{"tag": "hcldr"}}},
			"context_annotations": []map[string]any{{"domain": map[string]string{"id": "1", "name": pad}}},
		})
	}
	line, _ := json.Marshal(map[string]any{"data": data, "includes": map[string]any{"users": []map[string]any{{"id": "9001", "username": "carol_md"}}}, "meta": map[string]any{"result_count": 200}})
	if len(line) < 400<<10 {
		t.Fatalf("line of %d bytes, want > 400 KB", len(line))
	}
	file := filepath.Join(t.TempDir(), "big.jsonl")
	os.WriteFile(file, append(append(line, '\n'), line...), 0o644)
	e := newEnv(t)
	sum, _ := e.importFiles(t, Options{Format: "x-v2"}, file)
	if want := (Summary{Files: 1, Read: 2, Published: 200, Duplicates: 200}); sum != want {
		t.Fatalf("summary = %+v, want %+v", sum, want)
	}
}

// bareTweets writes n X v2 bare tweets, one per line.
func bareTweets(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"%d","author_id":"9001","text":"A%d trust is earned #hcldr","created_at":"2024-04-17T00:40:00.000Z"}`+"\n", 1780390000000000000+i, i%9+1)
	}
	file := filepath.Join(t.TempDir(), "tweets.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestImportProgressCountsRecords: the bar follows the records handled, so its first
// frame on a file of thousands of records is near 0%, not 100% (the bytes read ahead).
func TestImportProgressCountsRecords(t *testing.T) {
	file := bareTweets(t, 3000)
	e := newEnv(t)
	_, term := e.importFiles(t, Options{Format: "x-v2", IsTerminal: true, ProgressEvery: time.Nanosecond}, file)
	frames := strings.Split(strings.TrimPrefix(term, "\r\033[K"), "\r\033[K")
	if len(frames) < 10 {
		t.Fatalf("%d frames:\n%q", len(frames), term)
	}
	pct := regexp.MustCompile(`\] +([0-9]+)%`)
	m := pct.FindStringSubmatch(frames[0])
	if m == nil {
		t.Fatalf("first frame %q has no percentage", frames[0])
	}
	if first, _ := strconv.Atoi(m[1]); first > 5 {
		t.Errorf("first frame at %d%%, want near 0: %q", first, frames[0])
	}
	if mid := pct.FindStringSubmatch(frames[len(frames)/2]); mid == nil || mid[1] == "100" || mid[1] == "0" {
		t.Errorf("middle frame %q, want part way", frames[len(frames)/2])
	}
}

// TestImportWrongFormat: a file in another format fails before anything is published
// and names the format it looks like; a file mostly invalid fails after its good
// records went in.
func TestImportWrongFormat(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct{ file, format, want string }{
		{"testdata/hcldr_mastodon.json", "x-v2", "--format mastodon"},
		{"testdata/hcldr_v2.jsonl", "jetstream", "--format x-v2"},
		{"testdata/hcldr_jetstream.jsonl", "x-v1", "--format jetstream"},
		{"testdata/hcldr_tags.csv", "mastodon", "--format tags-csv"},
	} {
		_, err := Import(ctx, Options{Community: hcldr, Format: tc.format}, e.emitter(), tc.file)
		if err == nil || !strings.Contains(err.Error(), "does not look like "+tc.format) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s as %s: err = %v, want it to say %q", tc.file, tc.format, err, tc.want)
		}
	}
	if n := e.nats.Count(t, bus.PostsStream, ">"); n != 0 {
		t.Errorf("%d messages published from files in the wrong format", n)
	}

	good := strings.Split(strings.TrimSpace(readFile(t, bareTweets(t, 2))), "\n")
	lines := append(good, `{"id":"x"}`, `{"nope":1}`, `not json`)
	file := filepath.Join(t.TempDir(), "mostly-bad.jsonl")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	sum, err := Import(ctx, Options{Community: hcldr, Format: "x-v2"}, e.emitter(), file)
	if err == nil || !strings.Contains(err.Error(), "3 of 5 records invalid") {
		t.Errorf("mostly invalid file: err = %v", err)
	}
	if sum.Published != 2 {
		t.Errorf("published %d, want the 2 good posts", sum.Published)
	}
}

func TestProgressFirstLineEarly(t *testing.T) {
	now := time.Date(2024, 4, 17, 0, 30, 0, 0, time.UTC)
	var out bytes.Buffer
	p := newProgress(&out, false, 0) // off a terminal: every 10s
	p.now = func() time.Time { return now }
	p.startFile("big.jsonl", 4<<20)
	now = now.Add(firstProgress)
	p.update(1<<20, Summary{Read: 1000})
	if !strings.HasPrefix(out.String(), "big.jsonl  25%") {
		t.Fatalf("no line after %v: %q", firstProgress, out.String())
	}
	out.Reset()
	now = now.Add(5 * time.Second)
	p.update(2<<20, Summary{Read: 2000})
	if out.Len() != 0 {
		t.Errorf("second line before the 10s interval: %q", out.String())
	}
}

// TestImportMastodonStdinTwoReadings: the Mastodon index needs a first reading of the
// file; from standard input it is kept in a temporary file, and replies still find
// their parents.
func TestImportMastodonStdinTwoReadings(t *testing.T) {
	e := newEnv(t)
	data, err := os.ReadFile("testdata/hcldr_mastodon.json")
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := e.importFiles(t, Options{Format: "mastodon", Stdin: bytes.NewReader(data)}, "-")
	if sum.Published != 3 {
		t.Fatalf("summary %+v", sum)
	}
	reply := find(e.posts(t, "hcldr"), "mastodon:https://masto.ai/users/bob/statuses/112300000000000002")
	if reply == nil || reply.ReplyToID != "mastodon:https://mastodon.social/users/carol/statuses/112300000000000001" {
		t.Errorf("reply from stdin: %+v", reply)
	}
}
