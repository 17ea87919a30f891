package embedded

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestJetStreamComesBackAfterRunningOutOfSpace: nats-server turns JetStream off when its disk
// fills up (handleOutOfSpace calls ShutdownJetStream); the watchdog turns it on again once the
// store has space, with its streams and messages, and publishing works again without a
// restart.
func TestJetStreamComesBackAfterRunningOutOfSpace(t *testing.T) {
	srv, err := Start(Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("before")); err != nil {
		t.Fatal(err)
	}

	// What nats-server does when a write finds the disk full.
	if err := srv.ns.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = js.Publish(short, "t.a", []byte("while off"))
	cancelShort()
	if err == nil {
		t.Fatal("a publish was acknowledged while JetStream was off")
	}

	deadline := time.Now().Add(20 * time.Second)
	for !srv.ns.JetStreamEnabled() {
		if time.Now().After(deadline) {
			t.Fatal("JetStream still off 20 s later")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ack *jetstream.PubAck
	for ack == nil {
		if time.Now().After(deadline) {
			t.Fatalf("publishing does not work again: %v", err)
		}
		pctx, c := context.WithTimeout(ctx, time.Second)
		ack, err = js.Publish(pctx, "t.a", []byte("after"))
		c()
	}
	if ack.Stream != "T" || ack.Sequence != 2 {
		t.Errorf("after the restart of JetStream: %+v, want the second message of T", ack)
	}
}

// TestWedgedStoreIsReloaded: after a store write failed for lack of space (the server logs
// it; its file store then refuses every write), Health says so, and once the store has space
// the watchdog reloads JetStream and Health is nil again. The failed write is what nats-server
// logs; the full disk itself is TestChaosDiskFullDuringSimulate's.
func TestWedgedStoreIsReloaded(t *testing.T) {
	srv, err := Start(Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if err := srv.Health(); err != nil {
		t.Fatalf("a fresh server: %v", err)
	}
	srv.ns.Errorf("JetStream stream '$G > POSTS' critical write error: write /x/msgs/2.blk: no space left on device")
	if err := srv.Health(); err == nil || !strings.Contains(err.Error(), "out of disk space") {
		t.Fatalf("Health after a failed write: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for srv.Health() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("still wedged 20 s later: %v", srv.Health())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !srv.ns.JetStreamEnabled() {
		t.Fatal("JetStream is off after the reload")
	}
}

// TestOnlyTheClientPortListens: the embedded server opens its client port on loopback and
// nothing else a browser could reach: no HTTP monitoring port, no websocket, no leaf or
// cluster port.
func TestOnlyTheClientPortListens(t *testing.T) {
	srv, err := Start(Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if a := srv.ns.MonitorAddr(); a != nil {
		t.Errorf("monitoring port open on %v", a)
	}
	o := srv.nsOpts
	if o.Websocket.Port != 0 || o.LeafNode.Port != 0 || o.Cluster.Port != 0 || o.HTTPPort != 0 || o.HTTPSPort != 0 {
		t.Errorf("extra listeners configured: websocket %d, leaf %d, cluster %d, http %d, https %d",
			o.Websocket.Port, o.LeafNode.Port, o.Cluster.Port, o.HTTPPort, o.HTTPSPort)
	}
	if !srv.ns.Addr().(*net.TCPAddr).IP.IsLoopback() {
		t.Errorf("client port on %v", srv.ns.Addr())
	}
}
