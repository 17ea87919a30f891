package bluesky

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/post"
)

// TestMemorySurvivesRestart: handles and kept posts learnt by one process's sources
// (or an import) are known to the next one's, through the NATS KV bucket.
func TestMemorySurvivesRestart(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	open := func() *Memory {
		m, err := OpenMemory(ctx, env.JS)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	const uri = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kqa2bxyz2c2b"

	// First process: an imported capture's identity event names the DID; a kept post.
	before := NewProfiles("http://127.0.0.1:1", nil, nil)
	before.Memory = open()
	before.Enrich([]byte(`{"did":"`+did+`","time_us":1713314000000000,"kind":"identity","identity":{"did":"`+did+`","handle":"Nurse.Ana.bsky.social","seq":1}}`), nil)
	before.Memory.SaveKept(uri, []string{"hcldr"})

	// Next process: new caches, the same bucket.
	after := NewProfiles("http://127.0.0.1:1", nil, nil)
	after.Memory = open()
	if pr, ok := after.Get(did); !ok || pr.Handle != "nurse.ana.bsky.social" {
		t.Errorf("handle after restart: %+v %v", pr, ok)
	}
	p := &post.Post{ID: "bluesky:" + uri, Author: post.Account{ID: "bluesky:" + did, Handle: did}}
	after.Enrich(nil, []*post.Post{p})
	if p.Author.Handle != "nurse.ana.bsky.social" {
		t.Errorf("imported post's author = %q, want the handle", p.Author.Handle)
	}
	if tags, ok := after.Memory.Kept(uri); !ok || len(tags) != 1 || tags[0] != "hcldr" {
		t.Errorf("kept post after restart: %v %v", tags, ok)
	}
	if _, ok := after.Memory.Kept(uri + "x"); ok {
		t.Error("a post never kept is remembered")
	}
	var none *Memory
	if _, ok := none.Profile(did); ok {
		t.Error("nil Memory remembers")
	}
}

// TestJetstreamKeptPostsSurviveRestart: a repost arriving after a restart, of a post
// kept before it, is kept: the new process finds the post in the Memory.
func TestJetstreamKeptPostsSurviveRestart(t *testing.T) {
	h := ingesttest.New(t)
	p1 := RecordURI(didHost, CollectionPost, "3l6p1aaaaaaaa")
	tagFacet := `,"facets":[{"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"HCLDR"}],"index":{"byteEnd":18,"byteStart":12}}]`
	js := newFakeJetstream(t, func(t *testing.T, c *websocket.Conn, n int) {
		switch n {
		case 1:
			send(t, c, postEvent(didHost, "3l6p1aaaaaaaa", tUS+1_000_000, "Q1 tonight: #HCLDR", tagFacet))
		case 2:
			send(t, c, repostEvent(didRepost, "3l6r1aaaaaaaa", tUS+2_000_000, p1))
		}
		holdOpen(c)
	})
	memory, err := OpenMemory(context.Background(), h.Env.JS)
	if err != nil {
		t.Fatal(err)
	}
	newSource := func() *Jetstream {
		j, err := NewJetstream(JetstreamConfig{URL: js.wsURL(), Communities: testCommunities, Cursors: h.Cursors,
			Memory: memory, Metrics: h.Metrics, Log: h.Logger, SaveEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	stop := ingesttest.Run(t, newSource(), h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "the post", func() bool { return h.Count(t, bus.PostsStream, "posts.hcldr.bluesky") == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop = ingesttest.Run(t, newSource(), h.Emitter)
	ingesttest.WaitFor(t, 10*time.Second, "the repost after the restart", func() bool { return h.Count(t, bus.PostsStream, "posts.hcldr.bluesky") == 2 })
	_ = stop()
}
