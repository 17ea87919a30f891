package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// Source pulls posts from one network until ctx is done. Run handles reconnects and
// retries itself (with pipeline/backoff) and returns nil on a clean stop; a returned error is
// fatal for that source, such as a missing credential, and says what to fix.
type Source interface {
	Name() string
	Run(ctx context.Context, em *Emitter) error
}

// Deps are what the sources of one network share.
type Deps struct {
	Cursors    *Cursors
	Metrics    *Metrics
	Log        *slog.Logger
	HTTPClient *http.Client
}

// Emitter publishes the posts a source produces and parks what it cannot parse.
type Emitter struct {
	pub     *bus.Publisher
	js      jetstream.JetStream
	metrics *Metrics
	log     *slog.Logger
}

// NewEmitter publishes through js and counts in metrics (nil: unregistered ones).
func NewEmitter(js jetstream.JetStream, metrics *Metrics, log *slog.Logger) *Emitter {
	metrics, log = Defaults(metrics, log)
	return &Emitter{pub: bus.NewPublisher(js), js: js, metrics: metrics, log: log}
}

// Post publishes one post with its stable message id. Call Flush before saving the
// cursor that covers it. A post that fails post.Validate (hostile or broken input: a
// time far off, a huge text, too many mentions) is dead-lettered, not returned as an
// error, so one bad record never stops a source.
func (e *Emitter) Post(ctx context.Context, p *post.Post) error {
	p.Normalize()
	if err := p.Validate(); err != nil {
		raw, encErr := post.Encode(nil, p)
		if encErr != nil {
			raw = p.Raw
		}
		e.Invalid(ctx, string(p.Source), "post "+p.MsgID(), raw, err)
		return nil
	}
	if err := e.pub.PublishPosts(ctx, p.Community, p.Source, p.MsgID(), p); err != nil {
		return err
	}
	e.metrics.Posts.WithLabelValues(string(p.Source)).Inc()
	return nil
}

// PostTo publishes a copy of p for every community whose hashtags it carries (or for
// all of communities when matchAll is set) and reports how many copies went out.
func (e *Emitter) PostTo(ctx context.Context, p *post.Post, communities []community.Community, matchAll bool) (int, error) {
	n := 0
	for i := range communities {
		cm := &communities[i]
		if !matchAll && !cm.MatchesTags(p.Hashtags) {
			continue
		}
		cp := *p
		cp.Community = cm.ID
		if err := e.Post(ctx, &cp); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Batch publishes many posts of one community in one message under a stable batch id
// (bulk paths: archive import, simulator).
func (e *Emitter) Batch(ctx context.Context, community string, src post.Source, batchID string, posts []*post.Post) error {
	if len(posts) == 0 {
		return nil
	}
	if err := e.pub.PublishPosts(ctx, community, src, batchID, posts...); err != nil {
		return err
	}
	e.metrics.Posts.WithLabelValues(string(src)).Add(float64(len(posts)))
	return nil
}

// Invalid counts, logs and dead-letters a record a source could not use; origin says
// where it was (URL and offset, file and line) so it can be found again.
func (e *Emitter) Invalid(ctx context.Context, source, origin string, raw []byte, cause error) {
	e.metrics.Invalid.WithLabelValues(source).Inc()
	e.log.Warn("invalid record parked", "source", source, "origin", origin, "bytes", len(raw), "err", cause)
	if err := e.pub.DeadLetter(ctx, "ingest."+source, origin, raw, cause); err != nil {
		e.log.Error("dead letter not stored", "source", source, "origin", origin, "err", err)
	}
	now := time.Now().UTC()
	e.Completeness(ctx, steward.Event{Source: source, From: now, To: now, Kind: steward.KindDeadLetter, Detail: origin + ": " + cause.Error(), Count: 1})
}

// Completeness records what the source may have missed (a reconnect window, a rate-limit
// wait, a page cut by a cap ...) on steward.completeness.<source>. It never fails the
// source: an event that cannot be published is logged.
func (e *Emitter) Completeness(ctx context.Context, ev steward.Event) {
	ev.From, ev.To = ev.From.UTC().Truncate(time.Millisecond), ev.To.UTC().Truncate(time.Millisecond)
	if len(ev.Detail) > 2048 {
		ev.Detail = ev.Detail[:2048]
	}
	if err := ev.Validate(); err != nil {
		e.log.Error("completeness event not recorded", "err", err)
		return
	}
	msg, err := steward.CompletenessMsg(ev)
	if err != nil {
		e.log.Error("completeness event not recorded", "err", err)
		return
	}
	if err := e.pub.PublishMsg(ctx, msg); err != nil {
		e.log.Error("completeness event not recorded", "source", ev.Source, "kind", ev.Kind, "err", err)
	}
}

// Delete reports that a post no longer exists at its source, on
// steward.deletions.<source>. Like a post, it is stored once Flush returns.
func (e *Emitter) Delete(ctx context.Context, d steward.Deletion) error {
	d.At = d.At.UTC().Truncate(time.Millisecond)
	if err := d.Validate(); err != nil {
		return err
	}
	msg, err := steward.DeletionMsg(d)
	if err != nil {
		return err
	}
	if err := e.pub.PublishMsg(ctx, msg); err != nil {
		return err
	}
	e.metrics.Deletions.WithLabelValues(d.Source).Inc()
	return nil
}

// Flush waits until everything published so far is stored in JetStream.
func (e *Emitter) Flush(ctx context.Context) error { return e.pub.Flush(ctx) }

// Counts returns how many messages were stored as new and how many JetStream dropped as duplicates.
func (e *Emitter) Counts() (stored, duplicates int) { return e.pub.Counts() }

// Cursors keeps each source's resume point in the NATS KV bucket, so a restarted
// ingestor continues where the last one stopped.
type Cursors struct{ kv jetstream.KeyValue }

// OpenCursors opens the cursor bucket (bus.EnsureStreams creates it).
func OpenCursors(ctx context.Context, js jetstream.JetStream) (*Cursors, error) {
	kv, err := js.KeyValue(ctx, bus.CursorBucket)
	if err != nil {
		return nil, fmt.Errorf("open cursor bucket %s: %w", bus.CursorBucket, err)
	}
	return &Cursors{kv: kv}, nil
}

// Get returns the cursor under key, or "" when there is none yet.
func (c *Cursors) Get(ctx context.Context, key string) (string, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor %s: %w", key, err)
	}
	return string(e.Value()), nil
}

// Put stores the cursor under key. Keys use [A-Za-z0-9_.=-] only.
func (c *Cursors) Put(ctx context.Context, key, value string) error {
	if _, err := c.kv.PutString(ctx, key, value); err != nil {
		return fmt.Errorf("save cursor %s: %w", key, err)
	}
	return nil
}

// CompareIDs orders two post ids of a source whose ids grow with time, as cursors
// are kept: longer is newer (decimal snowflakes of X and Mastodon), then bytewise (which
// also orders ULIDs and flake ids of the same length).
func CompareIDs(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
