package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

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
// input is copied to a temporary file while it is indexed, so memory stays bounded by
// the largest record, not the archive; input that does not start like JSON is refused at
// once.
func openMastodon(r io.Reader, src post.Source) (RecordReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if err := startsLikeJSON(br); err != nil {
		return nil, fmt.Errorf("not a Mastodon archive (a JSON array of statuses, or one status per line): %w", err)
	}
	spool, err := os.CreateTemp("", "chatnight-mastodon-*")
	if err != nil {
		return nil, fmt.Errorf("mastodon archive: temporary copy: %w", err)
	}
	// Removed now: the open file stays readable until Close, and nothing is left behind.
	os.Remove(spool.Name())
	index := mastodon.Index{}
	for rec, err := range mastodon.ReadArchive(io.TeeReader(br, spool)) {
		var bad *mastodon.BadRecordError
		switch {
		case err == nil:
			index.Add(rec.Raw)
		case errors.As(err, &bad):
		default:
			spool.Close()
			return nil, fmt.Errorf("read mastodon archive: %w", err)
		}
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		spool.Close()
		return nil, fmt.Errorf("mastodon archive: temporary copy: %w", err)
	}
	return &closingRecords{RecordReader: JSONRecords(spool, mastodon.Parser{Lookup: index.Lookup}.Parse, src), c: spool}, nil
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

// closingRecords closes c at the end of the records.
type closingRecords struct {
	RecordReader
	c io.Closer
}

func (r *closingRecords) Next() (Record, error) {
	rec, err := r.RecordReader.Next()
	if err != nil {
		r.c.Close()
	}
	return rec, err
}
