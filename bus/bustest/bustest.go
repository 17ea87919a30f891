// Package bustest starts an embedded NATS JetStream server with chatnight's streams for
// tests, on a random loopback port with its store in t.TempDir().
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/bus"
	"github.com/chatnight/chatnight/bus/embedded"
)

// Env is a running test server and a client connected to it.
type Env struct {
	Server *embedded.Server
	URL    string
	NC     *nats.Conn
	JS     jetstream.JetStream
}

// Start runs a server with the streams created; it is shut down when the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn runs a server whose store lives in dir, so a test can restart it on the same data.
func StartIn(t testing.TB, dir string) *Env {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start embedded NATS: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, js, err := bus.Connect(ctx, srv.ClientURL(), "test")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatalf("create streams: %v", err)
	}
	return &Env{Server: srv, URL: srv.ClientURL(), NC: nc, JS: js}
}

// Messages reads up to n messages of the stream matching subject (">" for all) and
// returns them in stream order, waiting at most timeout for them to arrive.
func (e *Env) Messages(t testing.TB, stream, subject string, n int, timeout time.Duration) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cfg := jetstream.OrderedConsumerConfig{}
	if subject != "" && subject != ">" {
		cfg.FilterSubjects = []string{subject}
	}
	cons, err := e.JS.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		t.Fatalf("consumer on %s: %v", stream, err)
	}
	var out []jetstream.Msg
	for len(out) < n {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatalf("fetch from %s: %v", stream, err)
		}
		for m := range batch.Messages() {
			out = append(out, m)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return out
}
