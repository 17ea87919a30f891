package bluesky

import (
	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/community"
)

var testCommunities = []community.Community{
	{ID: "hcldr", Name: "#HCLDR", Hashtags: []string{"HCLDR"}},
	{ID: "hitsm", Name: "#HITsm", Hashtags: []string{"hitsm"}},
}

// cursorStub satisfies constructors that only check for a cursor store.
var cursorStub ingest.Cursors
