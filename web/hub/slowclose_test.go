package hub

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWriteTimeoutClosesWith1013: a viewer that stops reading makes a write time out (its
// queue is long enough never to fill). When it reads again it finds every message that was
// sent, whole, and then a close frame with 1013, not a torn stream or a bare TCP close (1006).
func TestWriteTimeoutClosesWith1013(t *testing.T) {
	th := startHub(t, Options{SendQueue: 10_000, WriteWait: 300 * time.Millisecond}, nil)
	slow := th.mustDial(t, "community="+testCommunity)
	readOpening(t, slow)

	timedOut := func() bool { return value(th.hub.metrics.dropped.WithLabelValues(DropWrite)) >= 1 }
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; !timedOut(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no write timed out after %d messages", i)
		}
		th.publish(t, testCommunity, postEvent(fmt.Sprintf("sim:%d", i), 256<<10))
		time.Sleep(20 * time.Millisecond) // let the pump try the write
	}
	if got := value(th.hub.metrics.dropped.WithLabelValues(DropSlow)); got != 0 {
		t.Fatalf("dropped{slow} = %v: the queue filled, this test is about the write timeout", got)
	}

	var closeErr *websocket.CloseError
	messages := 0
	for {
		slow.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := slow.ReadMessage()
		if err == nil {
			if _, ok := SeqOf(data); !ok {
				t.Fatalf("message %d is torn: %.40q", messages, data)
			}
			messages++
			continue
		}
		if !errors.As(err, &closeErr) {
			t.Fatalf("after %d messages: read error %v, want a close frame", messages, err)
		}
		break
	}
	if closeErr.Code != websocket.CloseTryAgainLater || !strings.Contains(closeErr.Text, "too slow") {
		t.Fatalf("closed with %d %q, want 1013 and a reason", closeErr.Code, closeErr.Text)
	}
	t.Logf("the slow viewer read %d whole messages, then 1013", messages)
}
