package archive

import (
	"bytes"
	"fmt"
	"io"

	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
	"github.com/chatnight/chatnight/pipeline/post"
)

// socialFormats are the formats whose parsers live with their network's source.
func socialFormats() []Format {
	return []Format{
		{Name: "mastodon", Doc: "Mastodon statuses: a JSON array (a saved API response) or one status per line", Open: openMastodon},
		JSONFormat("jetstream", "Bluesky Jetstream v1 events, one per line", bluesky.ParseEvent),
	}
}

// openMastodon reads the file twice: first to index its statuses by local id, then to
// parse them, so that a reply names its parent's uri when the parent is in the file
// (Mastodon's in_reply_to_id is only meaningful on the instance that served it). The
// file is held in memory for that.
func openMastodon(r io.Reader, src post.Source) (RecordReader, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read mastodon archive: %w", err)
	}
	index, times := mastodon.Index{}, mastodon.FileTimes{}
	for rec, err := range mastodon.ReadArchive(bytes.NewReader(data)) {
		if err == nil {
			index.Add(rec.Raw)
			times.Add(rec.Raw)
		}
	}
	return JSONRecords(bytes.NewReader(data), mastodon.Parser{Lookup: index.Lookup, Time: times.Canonical}.Parse, src), nil
}
