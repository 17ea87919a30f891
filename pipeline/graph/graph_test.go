package graph

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage"
)

func TestEdges(t *testing.T) {
	tests := []struct {
		name         string
		row          storage.PostRow
		parentAuthor string
		want         []string
	}{
		{"original with mentions", storage.PostRow{AuthorID: "a", MentionIDs: []string{"b", "c", "b"}},
			"", []string{"a->b mention", "a->c mention"}},
		{"self mention", storage.PostRow{AuthorID: "a", MentionIDs: []string{"a"}}, "", nil},
		{"unresolved mention", storage.PostRow{AuthorID: "a", MentionIDs: []string{""}}, "", nil},
		{"reply skips the auto-mention", storage.PostRow{AuthorID: "a", ReplyToID: "p", ReplyToAuthorID: "b", MentionIDs: []string{"b", "c"}},
			"", []string{"a->b reply", "a->c mention"}},
		{"reply author from the parent", storage.PostRow{AuthorID: "a", ReplyToID: "p"}, "b", []string{"a->b reply"}},
		{"reply author unknown", storage.PostRow{AuthorID: "a", ReplyToID: "p"}, "", nil},
		{"mention kept when reply author came from the parent", storage.PostRow{AuthorID: "a", ReplyToID: "p", MentionIDs: []string{"b"}},
			"b", []string{"a->b reply", "a->b mention"}},
		{"self reply", storage.PostRow{AuthorID: "a", ReplyToID: "p", ReplyToAuthorID: "a", MentionIDs: []string{"c"}},
			"", []string{"a->c mention"}},
		{"quote", storage.PostRow{AuthorID: "a", Kind: "quote", QuoteOfID: "q", QuoteOfAuthorID: "b", MentionIDs: []string{"b", "c"}},
			"", []string{"a->b quote", "a->c mention"}},
		{"quote of self", storage.PostRow{AuthorID: "a", QuoteOfID: "q", QuoteOfAuthorID: "a"}, "", nil},
		{"quote that replies", storage.PostRow{AuthorID: "a", ReplyToID: "p", ReplyToAuthorID: "b", QuoteOfID: "q", QuoteOfAuthorID: "c"},
			"", []string{"a->b reply", "a->c quote"}},
		{"repost only", storage.PostRow{AuthorID: "a", Kind: "repost", RepostOfID: "r", RepostOfAuthorID: "b", MentionIDs: []string{"b", "c"}},
			"", []string{"a->b repost"}},
		{"repost of self", storage.PostRow{AuthorID: "a", Kind: "repost", RepostOfID: "r", RepostOfAuthorID: "a"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range Edges(&tt.row, tt.parentAuthor) {
				got = append(got, fmt.Sprintf("%s->%s %s", e.Src, e.Dst, e.Kind))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Edges = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRows(t *testing.T) {
	at := time.Date(2026, 11, 25, 1, 40, 0, 0, time.UTC)
	r := storage.PostRow{ID: "x:1", Community: "hcldr", SessionID: "hcldr-20261125T013000Z", AuthorID: "a", CreatedAt: at, MentionIDs: []string{"b"}}
	rows := Rows(&r, Edges(&r, ""), 9)
	want := []storage.EdgeRow{{Community: "hcldr", SessionID: "hcldr-20261125T013000Z", Src: "a", Dst: "b", Kind: KindMention, PostID: "x:1", CreatedAt: at, Version: 9}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Rows = %+v, want %+v", rows, want)
	}
}
