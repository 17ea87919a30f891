package bus_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/bus/embedded"
	"github.com/chatnight/chatnight/pipeline/post"
)

func TestPublisherDeduplicatesByMsgID(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	// Creating the streams again (every process does at start-up) changes nothing.
	if err := bus.EnsureStreams(ctx, env.JS, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	p := &post.Post{ID: "x:1", Source: post.SourceX, Community: "hcldr", Author: post.Account{ID: "x:9"}, CreatedAt: time.Now(), Text: "A1: yes"}
	pub := bus.NewPublisher(env.JS)
	for i := 0; i < 3; i++ {
		if err := pub.PublishPosts(ctx, p.Community, p.Source, p.MsgID(), p); err != nil {
			t.Fatal(err)
		}
	}
	other := *p
	other.Community = "hitsm" // the same post in another community is another message
	if err := pub.PublishPosts(ctx, other.Community, other.Source, other.MsgID(), &other); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if stored, dupes := pub.Counts(); stored != 2 || dupes != 2 {
		t.Fatalf("stored %d, duplicates %d; want 2 and 2", stored, dupes)
	}
	msgs := env.Messages(t, bus.PostsStream, ">", 2, 2*time.Second)
	if len(msgs) != 2 || msgs[0].Subject() != "posts.hcldr.x" || msgs[1].Subject() != "posts.hitsm.x" {
		t.Fatalf("stream holds %d messages", len(msgs))
	}
}

func TestEmbeddedServerRefusesBadListen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct{ listen, want string }{
		{"0.0.0.0:4222", "loopback only"},
		{"192.0.2.1:4222", "loopback only"},
		{"nonsense", "host:port"},
		{l.Addr().String(), "--nats-listen"},
	} {
		_, err := embedded.Start(embedded.Options{DataDir: t.TempDir(), Listen: tt.listen})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Start(%q) = %v, want an error about %q", tt.listen, err, tt.want)
		}
	}
}

func TestEmbeddedServerKeepsStreamsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	env := bustest.StartIn(t, dir)
	ctx := context.Background()
	pub := bus.NewPublisher(env.JS)
	p := &post.Post{ID: "x:1", Source: post.SourceX, Community: "hcldr", Author: post.Account{ID: "x:9"}, CreatedAt: time.Now()}
	if err := pub.PublishPosts(ctx, "hcldr", post.SourceX, p.MsgID(), p); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	env.NC.Close()
	env.Server.Shutdown()

	again := bustest.StartIn(t, dir)
	if msgs := again.Messages(t, bus.PostsStream, ">", 1, 2*time.Second); len(msgs) != 1 {
		t.Fatalf("after a restart the stream holds %d messages, want 1", len(msgs))
	}
}
