package bluesky

import (
	"context"
	"testing"

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
