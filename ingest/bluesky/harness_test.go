package bluesky

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/community"
)

var testCommunities = []community.Community{
	{ID: "hcldr", Name: "#HCLDR", Hashtags: []string{"HCLDR"}},
	{ID: "hitsm", Name: "#HITsm", Hashtags: []string{"hitsm"}},
}

// harness is the shared source-test harness: embedded NATS, emitter, cursors, log.
type harness = ingesttest.Harness

func newHarness(t *testing.T) *harness { return ingesttest.New(t) }

var (
	run          = ingesttest.Run
	waitFor      = ingesttest.WaitFor
	counterValue = ingesttest.CounterValue
)

// sleeps records and skips waits, except block, which waits for the test to end.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
	block time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	if s.block != 0 && d == s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) list() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// cursorStub satisfies constructors that only check for a cursor store.
var cursorStub ingest.Cursors
