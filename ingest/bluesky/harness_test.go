package bluesky

import (
	"testing"

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

type sleeps = ingesttest.Sleeps

// cursorStub satisfies constructors that only check for a cursor store.
var cursorStub ingest.Cursors
