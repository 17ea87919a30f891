package web_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// fediverseCopy is a Mastodon status and its Bridgy Fed copy on Bluesky (the
// processor's fixtures), for community.
func fediverseCopy(t *testing.T, community string) (orig, cp *post.Post) {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile("../pipeline/derive/testdata/copies/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	ms, err := mastodon.ParseStatus(read("mastodon_original.json"), post.SourceMastodon)
	if err != nil || len(ms) != 1 {
		t.Fatalf("mastodon: %v %v", ms, err)
	}
	profile := func(string) (bluesky.Profile, bool) {
		return bluesky.Profile{Handle: "ana.nurses.example.ap.brid.gy", Name: "Ana"}, true
	}
	bs, err := bluesky.Parser{Profile: profile}.ParseEvent(read("jetstream_bridged.json"), post.SourceBluesky)
	if err != nil || len(bs) != 1 {
		t.Fatalf("bluesky: %v %v", bs, err)
	}
	for _, p := range []*post.Post{ms[0], bs[0]} {
		p.Community = community
		p.Normalize()
	}
	return ms[0], bs[0]
}

// TestFediverseCopyShownOnce sends a Mastodon status and its Bluesky copy through the
// processor, in both orders: the session counts one post by one participant, and its
// transcript says where the post appeared.
func TestFediverseCopyShownOnce(t *testing.T) {
	for _, order := range []string{"origfirst", "copyfirst"} {
		t.Run(order, func(t *testing.T) {
			id := "fedi" + order
			cfg := communities(t, id)
			orig, cp := fediverseCopy(t, id)
			batches := [][]*post.Post{{orig}, {cp}}
			if order == "copyfirst" {
				batches = [][]*post.Post{{cp}, {orig}}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d := derive.New(cfg, threads.NewClickHouse(ch), time.Now)
			for _, batch := range batches {
				b, err := d.Derive(ctx, batch)
				if err != nil {
					t.Fatal(err)
				}
				if err := bursts.WriteAndPlace(ctx, storage.NewWriter(ch, nil), b); err != nil {
					t.Fatal(err)
				}
			}
			ts := startServer(t, cfg, nil)
			base := ts.url + "/api/sessions/" + id + "-20261125T013000Z"
			var st struct {
				Posts        uint64 `json:"posts"`
				Participants uint64 `json:"participants"`
				Answers      uint64 `json:"answers"`
			}
			getJSON(t, base+"/stats", 200, &st)
			if st.Posts != 1 || st.Participants != 1 {
				t.Errorf("stats: %+v; want 1 post by 1 participant", st)
			}
			body, _ := get(t, base+"/transcript?format=md")
			const want = "A1 from the fediverse: ask about sleep \\#hcldr _(appeared on mastodon https://nurses.example/@ana/113500000000000888; " +
				"bluesky https://bsky.app/profile/did:plc:anabridged5q2xq5ab3cd4ef/post/3lbfedixyz33b)_"
			if !strings.Contains(body, want) || strings.Count(body, "ask about sleep") != 1 {
				t.Errorf("transcript:\n%s\nwant the post once, with %q", body, want)
			}
		})
	}
}
