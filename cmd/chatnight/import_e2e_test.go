package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/archive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// archivePosts parses a file the way `chatnight import` does, for the expected values.
func archivePosts(t *testing.T, community, format, file string) map[string]*post.Post {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fm, err := archive.LookupFormat(format)
	if err != nil {
		t.Fatal(err)
	}
	open := fm.Open
	if fm.Index != nil { // a first reading indexes the file, as the importer does
		if open, err = fm.Index(f); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
	}
	rr, err := open(f, post.SourceImport)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*post.Post{}
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rec.Posts {
			if out[p.ID] != nil {
				continue // the importer keeps the first copy of a post in a file
			}
			p.Community = community
			p.Normalize()
			out[p.ID] = p
		}
	}
}

// TestImportReachesClickHouse imports an archive of every format through `chatnight
// import` into a running chatnight and compares what ClickHouse holds with the parsed
// posts, field by field.
func TestImportReachesClickHouse(t *testing.T) {
	// Test files of different formats reuse tweet ids: each format gets its own community.
	dir := t.TempDir()
	config := filepath.Join(dir, "communities.yaml")
	var yaml strings.Builder
	yaml.WriteString("communities:\n")
	for _, f := range archive.FormatNames() {
		yaml.WriteString("  - {id: imp-" + f + ", hashtags: [hcldr], schedule: [{weekday: tuesday, start: \"20:30\", timezone: America/New_York, duration: 60m}]}\n")
	}
	if err := os.WriteFile(config, []byte(yaml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	n := newNode(t, filepath.Join(dir, "data"))
	n.start("run", "--batch-wait", "50ms", "--config", config)
	conn := n.ch(context.Background())
	testdata := filepath.Join("..", "..", "ingest", "archive", "testdata")
	for _, tc := range []struct{ format, file string }{
		{"x-v2", "hcldr_v2.jsonl"},
		{"x-v1", "hcldr_v1.json"},
		{"mastodon", "hcldr_mastodon.json"},
		{"jetstream", "hcldr_jetstream.jsonl"},
		{"tags-csv", "hcldr_tags.csv"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			file := filepath.Join(testdata, tc.file)
			community := "imp-" + tc.format
			out := chatnight(t, "import", "--config", config, "--community", community, "--format", tc.format, "--nats-url", n.natsURL(), file)
			if !strings.Contains(out, "import:") {
				t.Fatalf("import said: %s", out)
			}
			want := archivePosts(t, community, tc.format, file)
			ids := make([]string, 0, len(want))
			for id := range want {
				ids = append(ids, id)
			}
			var got []storage.PostRow
			waitFor(t, 30*time.Second, "the imported posts in ClickHouse", func() error {
				got = nil
				if err := conn.Select(context.Background(), &got, selectPostsByID, community, ids); err != nil {
					return err
				}
				if len(got) != len(want) {
					return errors.New("not all posts stored yet")
				}
				return nil
			})
			for _, g := range got {
				w := want[g.ID]
				exp := wantStored(w, "import", g.SessionID)
				exp.IsHost = g.IsHost
				// A reply's parent author may be filled in from the stored parent.
				if w.ReplyToAuthorID == "" {
					exp.ReplyToAuthorID = g.ReplyToAuthorID
				}
				g.CreatedAt = g.CreatedAt.UTC()
				if !reflect.DeepEqual(g, exp) {
					t.Errorf("post %s stored as\n%+v\nwant\n%+v", g.ID, g, exp)
				}
				if g.SessionID == "" {
					t.Errorf("post %s has no session", g.ID)
				}
			}
		})
	}
}

const selectPostsByID = `SELECT id, source, kind, author_id, author_handle, author_name, author_followers, created_at,
	text, lang, url, reply_to_id, reply_to_author_id, quote_of_id, repost_of_id, repost_of_author_id,
	mention_ids, hashtags, urls, session_id, is_host
FROM chatnight.posts FINAL WHERE community = ? AND has(?, id)`
