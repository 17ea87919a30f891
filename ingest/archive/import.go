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
	"hash/maphash"
	"io"
	"os"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
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
	// Progress receives progress lines; nil prints nothing. The summary and errors are
	// the caller's to print, once.
	Progress io.Writer
	// IsTerminal draws a progress bar on Progress instead of periodic lines.
	IsTerminal bool
	// ProgressEvery is the time between progress updates; zero means 200ms on a
	// terminal and 10s otherwise.
	ProgressEvery time.Duration
	// Stdin is read for the file name "-"; nil means os.Stdin.
	Stdin io.Reader
	// Enrich, when set, sees each record and its posts before they are taken: the
	// Bluesky handle cache learns from identity events and names authors from it.
	Enrich func(raw []byte, posts []*post.Post)
}

// Summary counts what an import did.
type Summary struct {
	Files int
	Read  int // records read: lines, array elements, CSV rows
	// Published counts posts JetStream took as new. JetStream remembers message ids
	// for its duplicate window only, so a re-import after it publishes again posts the
	// processor already stored (and drops): published is not "new in ClickHouse".
	Published  int
	Duplicates int // posts repeated in the input, or dropped by JetStream as published before
	Invalid    int // records that could not be used, parked on deadletter.ingest.import
	Skipped    int // posts without one of the community's hashtags (MatchHashtags)
	Deletions  int // posts the archive says were deleted (removed everywhere once processed)
}

func (s Summary) String() string {
	out := fmt.Sprintf("published %d posts from %d file(s): %d records read, %d duplicates, %d invalid",
		s.Published, s.Files, s.Read, s.Duplicates, s.Invalid)
	if s.Skipped > 0 {
		out += fmt.Sprintf(", %d skipped without a matching hashtag", s.Skipped)
	}
	if s.Deletions > 0 {
		out += fmt.Sprintf(", %d deletions", s.Deletions)
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
		return Summary{}, fmt.Errorf("import: no format given: use one of %s", formatList())
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
	im := &importer{opts: opts, format: format, em: em, seen: map[uint64]struct{}{}, seed: maphash.MakeSeed()}
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
		} else if err := im.publishSteward(ctx); err != nil {
			errs = append(errs, err)
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

	// seen holds a 64-bit hash of each post id taken in this import, not the id: on a
	// large archive the ids would be most of the import's memory. Two ids colliding
	// (about one chance in 10^8 for 600,000 posts) would count a post as a duplicate.
	seen map[uint64]struct{}
	seed maphash.Seed

	// deletions and completeness events are published after the posts, so that the
	// duplicate count of the bulk messages stays exact.
	deletions []steward.Deletion
	events    []steward.Event
	// the current file: its invalid records and the time its posts span
	fileInvalid      int
	fileFrom, fileTo time.Time

	batch      []*post.Post
	batchBytes int

	// bulk messages published since the last flush; all carry window.size posts, so
	// the duplicate messages JetStream reports convert exactly into posts. dupBase is
	// em's duplicate count when the window opened (the publisher may wait for some
	// acknowledgements by itself when many are pending).
	window struct{ msgs, size, dupBase int }
}

func (im *importer) file(ctx context.Context, name string) error {
	path := name
	if name == "-" {
		path = "stdin"
		if im.format.Index != nil {
			// Read twice: standard input is kept in a temporary file, not in memory.
			tmp, err := spool(&countingReader{ctx: ctx, r: im.opts.Stdin})
			if err != nil {
				return fmt.Errorf("import stdin: %w", err)
			}
			defer os.Remove(tmp)
			name = tmp
		}
	}
	in, err := im.openInput(ctx, name)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	defer in.close()
	im.sum.Files++
	counter, br, gzipped, size, r := in.counter, in.br, in.gzipped, in.size, in.r
	hr := bufio.NewReaderSize(r, sniffBytes)
	fits := Sniff(headOf(hr, sniffBytes))
	if f := fitFor(fits, im.format.Name); f.Tried > 0 && f.Usable == 0 && fits[0].Usable > 0 {
		return wrongFormat(path, im.format.Name, fits, 0, 0)
	}
	open := im.format.Open
	if im.format.Index != nil {
		first, err := im.openInput(ctx, name)
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
		open, err = im.format.Index(first.r)
		first.close()
		if err != nil {
			return fmt.Errorf("import %s as %s: %w", path, im.format.Name, err)
		}
	}
	records, err := open(hr, post.SourceImport)
	if err != nil {
		return fmt.Errorf("import %s as %s: %w", path, im.format.Name, err)
	}
	// The bar follows the records handled, not the bytes read ahead into buffers: the
	// bytes of the records for a plain file, the compressed bytes the gzip reader took
	// for a gzipped one.
	var done int64
	position := func() int64 {
		if gzipped {
			return counter.n - int64(br.Buffered())
		}
		return min(done, counter.n)
	}
	im.progress.startFile(path, size)
	defer func() { im.progress.endFile(counter.n, im.sum) }()
	read, invalid := im.sum.Read, im.sum.Invalid
	im.fileInvalid, im.fileFrom, im.fileTo = 0, time.Time{}, time.Time{}
	defer im.fileDone(path)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := records.Next()
		if err == io.EOF {
			// Most records unusable means the wrong format (or not an archive at all):
			// the import did not do its job.
			if n, bad := im.sum.Read-read, im.sum.Invalid-invalid; n > 0 && 2*bad > n {
				return wrongFormat(path, im.format.Name, fits, n, bad)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
		im.sum.Read++
		done += int64(len(rec.Raw)) + 1
		origin := fmt.Sprintf("%s:%d", path, rec.Line)
		if rec.Err != nil {
			im.invalid(ctx, origin, rec.Raw, rec.Err)
		}
		if im.opts.Enrich != nil {
			im.opts.Enrich(rec.Raw, rec.Posts)
		}
		for _, p := range rec.Posts {
			if err := im.add(ctx, p, origin); err != nil {
				return err
			}
		}
		im.deletions = append(im.deletions, rec.Deletions...)
		im.progress.update(position(), im.sum)
	}
}

// input is one reading of an archive file, gzip undone.
type input struct {
	r       io.Reader
	counter *countingReader // bytes of the file read
	br      *bufio.Reader
	gzipped bool
	size    int64 // 0 when unknown (a pipe)
	close   func()
}

// openInput opens name ("-" is standard input) for reading, undoing gzip.
func (im *importer) openInput(ctx context.Context, name string) (*input, error) {
	in := &input{close: func() {}}
	var src io.Reader
	if name == "-" {
		src = im.opts.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		in.close = func() { f.Close() }
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			in.size = st.Size()
		}
		src = f
	}
	in.counter = &countingReader{ctx: ctx, r: src}
	in.br = bufio.NewReaderSize(in.counter, 64<<10)
	in.r = in.br
	if magic, _ := in.br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(in.br)
		if err != nil {
			in.close()
			return nil, err
		}
		fclose := in.close
		in.close = func() { gz.Close(); fclose() }
		in.r, in.gzipped = gz, true
	}
	return in, nil
}

// spool copies r to a temporary file and returns its name.
func spool(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "chatnight-import-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// sniffBytes is how much of a file's start Sniff reads.
const sniffBytes = 256 << 10

func fitFor(fits []Fit, format string) Fit {
	for _, f := range fits {
		if f.Format == format {
			return f
		}
	}
	return Fit{Format: format}
}

func (im *importer) invalid(ctx context.Context, origin string, raw []byte, cause error) {
	if len(raw) > maxDeadLetterBytes {
		raw = raw[:maxDeadLetterBytes]
		cause = fmt.Errorf("%w (record cut to %d bytes here)", cause, maxDeadLetterBytes)
	}
	im.em.Invalid(ctx, deadLetterSource, origin, raw, cause)
	im.sum.Invalid++
	im.fileInvalid++
}

// fileDone puts a file with invalid records on record: its posts' time span is where
// the collection may be missing what those records held.
func (im *importer) fileDone(path string) {
	if im.fileInvalid == 0 {
		return
	}
	from, to := im.fileFrom, im.fileTo
	if from.IsZero() {
		from = time.Now()
		to = from
	}
	im.events = append(im.events, steward.Event{Source: deadLetterSource, Community: im.opts.Community.ID, From: from, To: to,
		Kind: steward.KindInvalidRecords, Detail: fmt.Sprintf("%s: %d invalid records", path, im.fileInvalid), Count: uint64(im.fileInvalid)})
}

// publishSteward publishes the deletions and completeness events of the import.
func (im *importer) publishSteward(ctx context.Context) error {
	for _, d := range im.deletions {
		if err := im.em.Delete(ctx, d); err != nil {
			return fmt.Errorf("import: publish deletion of %s: %w", d.PostID, err)
		}
		im.sum.Deletions++
	}
	for _, e := range im.events {
		im.em.Completeness(ctx, e)
	}
	if err := im.em.Flush(ctx); err != nil {
		return fmt.Errorf("import: deletions not stored: %w", err)
	}
	return nil
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
	if im.fileFrom.IsZero() || p.CreatedAt.Before(im.fileFrom) {
		im.fileFrom = p.CreatedAt
	}
	if p.CreatedAt.After(im.fileTo) {
		im.fileTo = p.CreatedAt
	}
	key := maphash.String(im.seed, p.ID)
	if _, dup := im.seen[key]; dup {
		im.sum.Duplicates++
		return nil
	}
	im.seen[key] = struct{}{}
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
	im.sum.Published += (im.window.msgs - dupMsgs) * im.window.size
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
