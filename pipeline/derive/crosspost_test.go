package derive

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// TestCrossPostStoredOnce: Colin posts the same text on Mastodon and on Bluesky, 40
// seconds apart; his Mastodon profile's verified link makes the two accounts one
// person. Whichever arrives first is stored, the other recorded as its copy, in any
// order, across batches and processes, delivered again. The same text by someone else,
// or by Colin three minutes later, stays a post of its own.
func TestCrossPostStoredOnce(t *testing.T) {
	conn := clickHouse(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 25, 1, 40, 0, 0, time.UTC)
	mk := func(community, id string, author post.Account, after time.Duration) *post.Post {
		p := &post.Post{ID: id, Source: post.Source(networkOf(id)), Community: community, Author: author,
			CreatedAt: at.Add(after), Text: "A1: Listen first,  then   lead. #hcldr", URL: "https://example.org/" + id}
		p.Normalize()
		return p
	}
	colinM := post.Account{ID: "mastodon:colin@hc.example", Handle: "colin@hc.example", VerifiedLinks: []string{"https://colin.example.com"}}
	colinB := post.Account{ID: "bluesky:did:plc:colin", Handle: "colin.example.com"}
	ana := post.Account{ID: "x:7", Handle: "ana"}
	w := storage.NewWriter(conn, nil)
	tests := []struct {
		community string
		batches   func(m, b, a, late *post.Post) [][]*post.Post
		kept      string
		fresh     bool // a new Deriver (process) for each batch: no window, stored only
	}{
		{"xpmfirst", func(m, b, a, late *post.Post) [][]*post.Post { return [][]*post.Post{{m}, {b, a}, {b}, {m}, {late}} }, "mastodon:1", false},
		{"xpbfirst", func(m, b, a, late *post.Post) [][]*post.Post { return [][]*post.Post{{b}, {a, m}, {m, b}, {late}} }, "bluesky:1", false},
		{"xponebatch", func(m, b, a, late *post.Post) [][]*post.Post { return [][]*post.Post{{b, m, a, late}, {m, b}} }, "mastodon:1", false},
		{"xprestart", func(m, b, a, late *post.Post) [][]*post.Post { return [][]*post.Post{{b}, {m}, {a, late, m}} }, "bluesky:1", true},
	}
	for _, tc := range tests {
		t.Run(tc.community, func(t *testing.T) {
			m := mk(tc.community, "mastodon:1", colinM, 0)
			b := mk(tc.community, "bluesky:1", colinB, 40*time.Second)
			a := mk(tc.community, "x:1", ana, 50*time.Second)
			late := mk(tc.community, "bluesky:2", colinB, 3*time.Minute)
			var d *Deriver
			for _, batch := range tc.batches(m, b, a, late) {
				if d == nil || tc.fresh {
					d = New(&community.Config{}, threads.NewClickHouse(conn), time.Now).WithCrossPosts(copies.NewClickHouse(conn, nil))
				}
				res, err := d.Derive(ctx, batch)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(ctx, res); err != nil {
					t.Fatal(err)
				}
			}
			var rows []struct {
				ID string `ch:"id"`
			}
			if err := conn.Select(ctx, &rows, "SELECT id FROM chatnight.posts FINAL WHERE community = ? ORDER BY id", tc.community); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range rows {
				ids = append(ids, r.ID)
			}
			other := "bluesky:1"
			if tc.kept == "bluesky:1" {
				other = "mastodon:1"
			}
			want := []string{"bluesky:2", tc.kept, "x:1"}
			sort.Strings(want)
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Errorf("posts %v, want %v", ids, want)
			}
			cs, err := copies.Load(ctx, conn, tc.community, ids)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(cs); got != fmt.Sprintf("map[%s:[{%s %s https://example.org/%s}]]", tc.kept, networkOf(other), other, other) {
				t.Errorf("copies %s", got)
			}
		})
	}
}

func networkOf(id string) string {
	network, _, _ := strings.Cut(id, ":")
	return network
}
