package archive

import (
	"io"

	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
	"github.com/chatnight/chatnight/pipeline/post"
)

// socialFormats are the formats whose parsers live with their network's source.
func socialFormats() []Format {
	return []Format{
		{Name: "mastodon", Doc: "Mastodon statuses: a JSON array (a saved API response) or one status per line",
			Open: mastodonOpener(mastodon.Index{}, mastodon.NewFileTimes()), Index: indexMastodon},
		JSONFormat("jetstream", "Bluesky Jetstream v1 events, one per line", bluesky.ParseEvent),
	}
}

// indexMastodon reads the file once to index its statuses by local id, so that a reply
// names its parent's uri when the parent is in the file (Mastodon's in_reply_to_id is
// only meaningful on the instance that served it), and to find each status's most
// precise time. The index holds a few strings per status, not the file.
func indexMastodon(r io.Reader) (func(r io.Reader, src post.Source) (RecordReader, error), error) {
	index, times := mastodon.Index{}, mastodon.NewFileTimes()
	for rec, err := range mastodon.ReadArchive(r) {
		if err == nil {
			index.Add(rec.Raw)
			times.Add(rec.Raw)
		}
	}
	return mastodonOpener(index, times), nil
}

func mastodonOpener(index mastodon.Index, times *mastodon.FileTimes) func(r io.Reader, src post.Source) (RecordReader, error) {
	return func(r io.Reader, src post.Source) (RecordReader, error) {
		return JSONRecords(r, mastodon.Parser{Lookup: index.Lookup, Time: times.Canonical}.Parse, src), nil
	}
}
