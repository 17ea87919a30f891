package archive

import (
	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
)

// socialFormats are the formats whose parsers live with their network's source.
func socialFormats() []Format {
	return []Format{
		JSONFormat("mastodon", "Mastodon statuses: a JSON array (a saved API response) or one status per line", mastodon.ParseStatus),
		JSONFormat("jetstream", "Bluesky Jetstream v1 events, one per line", bluesky.ParseEvent),
	}
}
