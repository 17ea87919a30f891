package storage_test

import (
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// TestWriterColumns writes one row of each table with every field set and reads it
// back: the column appends put each field in its own column.
func TestWriterColumns(t *testing.T) {
	env := chdbtest.Start(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 3, 1, 2, 3, 456e6, time.UTC)
	post := storage.PostRow{
		ID: "p1", Community: "writer-columns", Source: "sim", Kind: "reply", AuthorID: "a1", AuthorHandle: "ana",
		AuthorName: "Ana", AuthorFollowers: 42, CreatedAt: at, Text: "hello #hcldr", Lang: "en", URL: "https://x/1",
		ReplyToID: "p0", ReplyToAuthorID: "a0", RootID: "p0", Depth: 3, QuoteOfID: "q", QuoteOfAuthorID: "qa",
		RepostOfID: "r", RepostOfAuthorID: "ra", MentionIDs: []string{"m1", "m2"}, MentionHandles: []string{"h1", "h2"},
		Hashtags: []string{"hcldr"}, URLs: []string{"https://u"}, SessionID: "s1", IsHost: true, Raw: `{"id":"p1"}`,
		IngestedAt: at.Add(time.Second), Version: 7,
	}
	bare := storage.PostRow{ID: "p2", Community: "writer-columns", Source: "sim", Kind: "original", AuthorID: "a2",
		CreatedAt: at, IngestedAt: at, Version: 1, MentionIDs: []string{}, MentionHandles: []string{}, Hashtags: []string{}, URLs: []string{}}
	session := storage.SessionRow{ID: "s1", Community: "writer-columns", Start: at, End: at.Add(time.Hour), Kind: "scheduled", Hosts: []string{"ana"}, Version: 2}
	mark := storage.QAMarkRow{Community: "writer-columns", SessionID: "s1", Kind: "answer", Number: 2, PostID: "p1", AuthorID: "a1", CreatedAt: at, ReplyToID: "p0", Version: 3}
	edge := storage.EdgeRow{Community: "writer-columns", SessionID: "s1", Src: "a1", Dst: "a0", Kind: "reply", PostID: "p1", CreatedAt: at, Version: 4}
	w := storage.NewWriter(env.Conn, nil)
	if err := w.Write(ctx, &storage.Batch{Sessions: []storage.SessionRow{session}, Posts: []storage.PostRow{post, bare}, QAMarks: []storage.QAMarkRow{mark}, Edges: []storage.EdgeRow{edge}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  any
		got   func() any
	}{
		{"SELECT * FROM chatnight.posts FINAL WHERE community = 'writer-columns' ORDER BY id", []storage.PostRow{post, bare}, func() any { return &[]storage.PostRow{} }},
		{"SELECT * FROM chatnight.sessions FINAL WHERE community = 'writer-columns'", []storage.SessionRow{session}, func() any { return &[]storage.SessionRow{} }},
		{"SELECT * FROM chatnight.qa_marks FINAL WHERE community = 'writer-columns'", []storage.QAMarkRow{mark}, func() any { return &[]storage.QAMarkRow{} }},
		{"SELECT * FROM chatnight.edge_events FINAL WHERE community = 'writer-columns'", []storage.EdgeRow{edge}, func() any { return &[]storage.EdgeRow{} }},
	} {
		got := tc.got()
		if err := env.Conn.Select(ctx, got, tc.query); err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if g := reflect.ValueOf(got).Elem().Interface(); !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.query, g, tc.want)
		}
	}
}
