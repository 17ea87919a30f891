package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
)

// TestFlushGivesUpWithoutAcks: when nothing acknowledges (JetStream stopped storing, its disk
// full), Flush returns ErrNoAck after AckWait instead of waiting forever, and the publisher
// works again once acknowledgements come back.
func TestFlushGivesUpWithoutAcks(t *testing.T) {
	env := bustest.Start(t)
	// A subscriber that takes the messages and never answers, as a stalled JetStream.
	sub, err := env.NC.Subscribe("stalled.>", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	pub := bus.NewPublisher(env.JS)
	pub.AckWait = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 3 {
		msg := nats.NewMsg("stalled.x")
		msg.Data = []byte{byte(i)}
		if err := pub.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err = pub.Flush(ctx)
	if !errors.Is(err, bus.ErrNoAck) {
		t.Fatalf("Flush: %v, want ErrNoAck", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Flush gave up after %v", took)
	}
	// Acknowledged publishes work again.
	msg := nats.NewMsg(bus.PostsSubject("hcldr", "x"))
	msg.Data = []byte("{}")
	msg.Header.Set("Nats-Msg-Id", "after-stall")
	if err := pub.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatalf("Flush after the stall: %v", err)
	}
}
