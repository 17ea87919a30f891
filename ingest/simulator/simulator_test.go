package simulator

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

func night(seed uint64, posts int) Night {
	cm, _ := community.Defaults().Lookup("hcldr")
	return Night{Community: cm, Seed: seed, Posts: posts, Start: time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)}
}

func TestSameSeedSamePosts(t *testing.T) {
	a, b := Generate(night(7, 300)), Generate(night(7, 300))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different posts")
	}
	c := Generate(night(8, 300))
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same posts")
	}
}

func TestNightLooksLikeAChat(t *testing.T) {
	n := night(3, 400)
	posts := Generate(n)
	if len(posts) != 400 {
		t.Fatalf("%d posts, want 400", len(posts))
	}
	ids := map[string]bool{}
	kinds := map[post.Kind]int{}
	questions, answers := 0, 0
	for i, p := range posts {
		if err := p.Validate(); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		if ids[p.ID] {
			t.Fatalf("duplicate id %s", p.ID)
		}
		ids[p.ID] = true
		if i > 0 && p.CreatedAt.Before(posts[i-1].CreatedAt) {
			t.Fatalf("posts out of time order at %d", i)
		}
		if p.CreatedAt.Before(n.Start) || !p.CreatedAt.Before(n.Start.Add(time.Hour)) {
			t.Fatalf("post %s at %v outside the hour", p.ID, p.CreatedAt)
		}
		if !n.Community.MatchesTags(p.Hashtags) {
			t.Fatalf("post %s lacks the community hashtag", p.ID)
		}
		for _, ref := range []string{p.ReplyToID, p.RepostOfID, p.QuoteOfID} {
			if ref != "" && !ids[ref] {
				t.Fatalf("post %s refers to %s, which is not an earlier post", p.ID, ref)
			}
		}
		kinds[p.Kind]++
		if strings.HasPrefix(p.Text, "Q") {
			questions++
			if !n.Community.IsHost("sim", p.Author.Handle) {
				t.Errorf("question %q not from a host", p.Text)
			}
		}
		if strings.HasPrefix(p.Text, "A") {
			answers++
		}
	}
	if questions != 8 || answers < 100 {
		t.Errorf("%d questions and %d answers", questions, answers)
	}
	for _, k := range []post.Kind{post.KindOriginal, post.KindReply, post.KindRepost, post.KindQuote} {
		if kinds[k] == 0 {
			t.Errorf("no %s posts", k)
		}
	}
}

func TestPublishTwiceStoresOnce(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n := night(5, 1200)
	first, err := Publish(ctx, n, Options{BatchSize: 500}, ingest.NewEmitter(env.JS, nil, log))
	if err != nil {
		t.Fatal(err)
	}
	if first.Messages != 3 || first.Stored != 3 || first.Duplicates != 0 {
		t.Fatalf("first publish: %+v", first)
	}
	again, err := Publish(ctx, n, Options{BatchSize: 500}, ingest.NewEmitter(env.JS, nil, log))
	if err != nil {
		t.Fatal(err)
	}
	if again.Stored != 0 || again.Duplicates != 3 {
		t.Fatalf("second publish: %+v", again)
	}
	msgs := env.Messages(t, "POSTS", "posts.hcldr.sim", 4, 2*time.Second)
	if len(msgs) != 3 {
		t.Fatalf("stream holds %d messages, want 3", len(msgs))
	}
	total := 0
	for _, m := range msgs {
		ps, bad := bus.DecodePosts(m.Headers(), m.Data())
		if len(bad) > 0 {
			t.Fatalf("bad lines: %v", bad[0].Err)
		}
		total += len(ps)
	}
	if total != 1200 {
		t.Fatalf("stream carries %d posts, want 1200", total)
	}
}
