package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
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
		{Name: "jetstream", Doc: "Bluesky Jetstream v1 events, one per line (delete commits of posts and reposts delete them)", Open: openJetstream},
	}
}

// indexMastodon reads the file once to index its statuses by local id, so that a reply
// names its parent's uri when the parent is in the file (Mastodon's in_reply_to_id is
// only meaningful on the instance that served it), and to find each status's most
// precise time. The index holds a few strings per status, not the file. Input that does
// not start like JSON is refused at once; a read that fails (an interrupt, a status over
// the size limit that breaks an array) fails the import.
func indexMastodon(r io.Reader) (func(r io.Reader, src post.Source) (RecordReader, error), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if err := startsLikeJSON(br); err != nil {
		return nil, fmt.Errorf("not a Mastodon archive (a JSON array of statuses, or one status per line): %w", err)
	}
	index, times := mastodon.Index{}, mastodon.NewFileTimes()
	for rec, err := range mastodon.ReadArchive(br) {
		var bad *mastodon.BadRecordError
		switch {
		case err == nil:
			index.Add(rec.Raw)
			times.Add(rec.Raw)
		case errors.As(err, &bad):
		default:
			return nil, fmt.Errorf("read mastodon archive: %w", err)
		}
	}
	return mastodonOpener(index, times), nil
}

func mastodonOpener(index mastodon.Index, times *mastodon.FileTimes) func(r io.Reader, src post.Source) (RecordReader, error) {
	return func(r io.Reader, src post.Source) (RecordReader, error) {
		return JSONRecords(r, mastodon.Parser{Lookup: index.Lookup, Time: times.Canonical}.Parse, src), nil
	}
}

// startsLikeJSON checks that the first byte after a byte order mark and white space opens
// a JSON array or object.
func startsLikeJSON(br *bufio.Reader) error {
	head, err := br.Peek(4096)
	if len(head) == 0 {
		if err == io.EOF {
			return nil // empty: no statuses
		}
		return err
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	if len(head) == 0 {
		return nil
	}
	if head[0] != '[' && head[0] != '{' {
		return fmt.Errorf("it starts with %q", head[:min(len(head), 16)])
	}
	return nil
}

// openJetstream reads Jetstream events: creates of posts and reposts are posts, deletes
// of them are deletions.
func openJetstream(r io.Reader, src post.Source) (RecordReader, error) {
	return jetstreamRecords{JSONRecords(r, bluesky.ParseEvent, src)}, nil
}

type jetstreamRecords struct{ RecordReader }

func (j jetstreamRecords) Next() (Record, error) {
	rec, err := j.RecordReader.Next()
	if err != nil || rec.Err != nil || len(rec.Posts) > 0 {
		return rec, err
	}
	if ev, derr := bluesky.DecodeEvent(rec.Raw); derr == nil {
		if d, ok := bluesky.DeletionOf(ev); ok {
			d.Source = string(post.SourceImport)
			rec.Deletions = append(rec.Deletions, d)
		}
	}
	return rec, nil
}
