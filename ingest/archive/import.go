// Package archive is `chatnight import`: it reads archive files of tweets, statuses,
// Jetstream events or TAGS sheets and publishes their posts in bulk to NATS, so that
// importing the same file again adds nothing.
package archive

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Defaults for Options.
const (
	DefaultBatchSize     = 500
	DefaultMaxBatchBytes = 768 << 10 // under NATS's default 1 MiB max payload
	// maxDeadLetterBytes keeps a parked record under the default max payload too.
	maxDeadLetterBytes = 900 << 10
	// flushEvery bounds how many bulk messages wait for their acknowledgement.
	flushEvery = 32
)

// deadLetterSource names import on dead-letter subjects (deadletter.ingest.import) and metrics.
const deadLetterSource = string(post.SourceImport)

// Options configure an import.
type Options struct {
	// Community receives every post (with MatchHashtags, only those carrying one of
	// its hashtags).
	Community *community.Community
	// Format is one of FormatNames(): x-v2, x-v1, mastodon, jetstream, tags-csv.
	Format string
	// MatchHashtags skips posts without one of the community's hashtags.
	MatchHashtags bool
	// BatchSize is the most posts one message carries; zero means DefaultBatchSize.
	BatchSize int
	// MaxBatchBytes is the most encoded bytes one message carries; zero means
	// DefaultMaxBatchBytes.
	MaxBatchBytes int
	// Progress receives progress and the summary; nil prints nothing.
	Progress io.Writer
	// IsTerminal draws a progress bar on Progress instead of periodic lines.
	IsTerminal bool
	// ProgressEvery is the time between progress updates; zero means 200ms on a
	// terminal and 10s otherwise.
	ProgressEvery time.Duration
	// Stdin is read for the file name "-"; nil means os.Stdin.
	Stdin io.Reader
}

// Summary counts what an import did.
type Summary struct {
	Files      int
	Read       int // records read: lines, array elements, CSV rows
	Imported   int // posts JetStream stored as new
	Duplicates int // posts repeated in the input, or already stored by an earlier import
	Invalid    int // records that could not be used, parked on deadletter.ingest.import
	Skipped    int // posts without one of the community's hashtags (MatchHashtags)
}

func (s Summary) String() string {
	out := fmt.Sprintf("imported %d posts from %d file(s): %d records read, %d duplicates, %d invalid",
		s.Imported, s.Files, s.Read, s.Duplicates, s.Invalid)
	if s.Skipped > 0 {
		out += fmt.Sprintf(", %d skipped without a matching hashtag", s.Skipped)
	}
	return out
}

// Import reads files ("-" is standard input; gzip is undone) in opts.Format and
// publishes their posts to opts.Community through em, many per message, each message
// under a stable batch id so that importing the same file again is dropped by JetStream
// (and by ClickHouse after the duplicate window). A record that cannot be used is
// parked with its "file:line" and the records around it still go in. Import expects
// to be the only user of em while it runs: it reads em's counts to tell duplicates.
func Import(ctx context.Context, opts Options, em *ingest.Emitter, files ...string) (Summary, error) {
	if opts.Community == nil {
		return Summary{}, errors.New("import: no community given")
	}
	if err := post.ValidCommunity(opts.Community.ID); err != nil {
		return Summary{}, fmt.Errorf("import: %w", err)
	}
	if opts.Format == "" {
		return Summary{}, fmt.Errorf("import: no format given: use one of %s", strings.Join(FormatNames(), ", "))
	}
	format, err := LookupFormat(opts.Format)
	if err != nil {
		return Summary{}, fmt.Errorf("import: %w", err)
	}
	if len(files) == 0 {
		return Summary{}, errors.New("import: no files given (use - for standard input)")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	im := &importer{opts: opts, format: format, em: em, seen: map[string]struct{}{}}
	im.progress = newProgress(opts.Progress, opts.IsTerminal, opts.ProgressEvery)
	var errs []error
	for _, name := range files {
		if err := im.file(ctx, name); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	if ctx.Err() == nil {
		if err := im.publish(ctx); err != nil {
			errs = append(errs, err)
		} else if err := im.flush(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.Progress != nil {
		fmt.Fprintln(opts.Progress, im.sum.String())
		for _, err := range errs {
			fmt.Fprintln(opts.Progress, "import error:", err)
		}
	}
	return im.sum, errors.Join(errs...)
}

type importer struct {
	opts     Options
	format   Format
	em       *ingest.Emitter
	progress *progress
	sum      Summary

	seen map[string]struct{} // post ids already taken in this import

	batch      []*post.Post
	batchBytes int

	// bulk messages published since the last flush; all carry window.size posts, so
	// the duplicate messages JetStream reports convert exactly into posts. dupBase is
	// em's duplicate count when the window opened (the publisher may wait for some
	// acknowledgements by itself when many are pending).
	window struct{ msgs, size, dupBase int }
}

func (im *importer) file(ctx context.Context, name string) error {
	var (
		in   io.Reader
		size int64
		path = name
	)
	if name == "-" {
		in, path = im.opts.Stdin, "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}
	im.sum.Files++
	counter := &countingReader{ctx: ctx, r: in}
	br := bufio.NewReaderSize(counter, 256<<10)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	records, err := im.format.Open(r, post.SourceImport)
	if err != nil {
		return fmt.Errorf("import %s as %s: %w", path, im.format.Name, err)
	}
	im.progress.startFile(path, size)
	defer func() { im.progress.endFile(counter.n, im.sum) }()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := records.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
		im.sum.Read++
		origin := fmt.Sprintf("%s:%d", path, rec.Line)
		if rec.Err != nil {
			im.invalid(ctx, origin, rec.Raw, rec.Err)
		}
		for _, p := range rec.Posts {
			if err := im.add(ctx, p, origin); err != nil {
				return err
			}
		}
		im.progress.update(counter.n, im.sum)
	}
}

func (im *importer) invalid(ctx context.Context, origin string, raw []byte, cause error) {
	if len(raw) > maxDeadLetterBytes {
		raw = raw[:maxDeadLetterBytes]
		cause = fmt.Errorf("%w (record cut to %d bytes here)", cause, maxDeadLetterBytes)
	}
	im.em.Invalid(ctx, deadLetterSource, origin, raw, cause)
	im.sum.Invalid++
}

// add takes one parsed post into the current batch.
func (im *importer) add(ctx context.Context, p *post.Post, origin string) error {
	p.Community = im.opts.Community.ID
	p.Normalize()
	if err := p.Validate(); err != nil {
		im.invalid(ctx, origin, p.Raw, err)
		return nil
	}
	if im.opts.MatchHashtags && !im.opts.Community.MatchesTags(p.Hashtags) {
		im.sum.Skipped++
		return nil
	}
	if _, dup := im.seen[p.ID]; dup {
		im.sum.Duplicates++
		return nil
	}
	im.seen[p.ID] = struct{}{}
	enc, err := post.Encode(nil, p)
	if err != nil {
		im.invalid(ctx, origin, p.Raw, err)
		return nil
	}
	if len(im.batch) > 0 && (len(im.batch) >= im.opts.BatchSize || im.batchBytes+len(enc) > im.opts.MaxBatchBytes) {
		if err := im.publish(ctx); err != nil {
			return err
		}
	}
	im.batch = append(im.batch, p)
	im.batchBytes += len(enc)
	return nil
}

// BatchID is the message id of a bulk message: the same posts for the same community
// always give the same id, so JetStream drops a re-import.
func BatchID(communityID string, posts []*post.Post) string {
	h := sha256.New()
	fmt.Fprintf(h, "chatnight import\x00%s\x00", communityID)
	for _, p := range posts {
		h.Write([]byte(p.ID))
		h.Write([]byte{'\n'})
	}
	return "import-" + hex.EncodeToString(h.Sum(nil))
}

// publish sends the current batch as one message.
func (im *importer) publish(ctx context.Context) error {
	n := len(im.batch)
	if n == 0 {
		return nil
	}
	if im.window.msgs > 0 && im.window.size != n {
		if err := im.flush(ctx); err != nil {
			return err
		}
	}
	if im.window.msgs == 0 {
		_, im.window.dupBase = im.em.Counts()
	}
	id := BatchID(im.opts.Community.ID, im.batch)
	if err := im.em.Batch(ctx, im.opts.Community.ID, post.SourceImport, id, im.batch); err != nil {
		return fmt.Errorf("import: publish: %w", err)
	}
	im.window.msgs++
	im.window.size = n
	im.batch, im.batchBytes = nil, 0
	if im.window.msgs >= flushEvery {
		return im.flush(ctx)
	}
	return nil
}

// flush waits for the acknowledgements of the window and counts its posts as
// imported or duplicate.
func (im *importer) flush(ctx context.Context) error {
	if err := im.em.Flush(ctx); err != nil {
		return fmt.Errorf("import: posts not stored: %w", err)
	}
	if im.window.msgs == 0 {
		return nil
	}
	_, dupes := im.em.Counts()
	dupMsgs := dupes - im.window.dupBase
	im.sum.Duplicates += dupMsgs * im.window.size
	im.sum.Imported += (im.window.msgs - dupMsgs) * im.window.size
	im.window.msgs, im.window.size = 0, 0
	return nil
}

// countingReader counts what the formats read, and stops them once ctx ends: a format may
// read on for long inside one record (skipping an over-long line of /dev/zero, spooling an
// archive), and every read it makes comes through here.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("import interrupted: %w", err)
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
