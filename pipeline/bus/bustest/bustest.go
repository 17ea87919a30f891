// Package bustest starts an embedded NATS JetStream server with chatnight's streams for
// tests, on a random loopback port with its store in t.TempDir().
package bustest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/embedded"
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

// Count is how many messages stream holds on the subjects matching filter (a subject
// or a wildcard).
func (e *Env) Count(t testing.TB, stream, filter string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// Cluster is a NATS cluster of in-process servers with JetStream, routed on loopback.
type Cluster struct {
	Servers []*server.Server
	URLs    []string
}

// URL lists every server, for clients that should fail over.
func (c *Cluster) URL() string { return strings.Join(c.URLs, ",") }

// StartCluster runs n servers (n >= 3 for R3 streams) clustered over routes on
// loopback, each with its own store, and returns once JetStream has a meta leader.
// They are shut down when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = FreePort(t)
	}
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			MaxPayload: 8 << 20,
			Cluster: server.ClusterOpts{
				Name: "chatnight-test",
				Host: "127.0.0.1",
				Port: routePorts[i],
			},
			Routes: routes,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("configure NATS node %d: %v", i+1, err)
		}
		s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("NATS node %d not ready", i+1)
		}
		c.Servers = append(c.Servers, s)
		c.URLs = append(c.URLs, s.ClientURL())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c.hasLeader() {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("the NATS cluster elected no JetStream meta leader within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Cluster) hasLeader() bool {
	for _, s := range c.Servers {
		if s.Running() && s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// Stop shuts node i down, as a crash of that machine would look to clients.
func (c *Cluster) Stop(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i].WaitForShutdown()
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
