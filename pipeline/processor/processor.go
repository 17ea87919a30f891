// Package processor is the stream processor: it consumes the POSTS stream through the
// shared durable consumer, derives rows in batches, writes them to ClickHouse, and only
// then acknowledges the messages and announces the posts on live.<community>. A batch
// cut short by a crash is delivered again; every table deduplicates, so nothing is lost
// and nothing is counted twice.
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/steward"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// Config tunes batching.
type Config struct {
	BatchPosts int           // write when a batch holds this many posts (default 5000)
	BatchWait  time.Duration // or when its first message is this old (default 200ms)
	// AckWait is how long JetStream waits for an ack before delivering a message to
	// another processor; retries of a slow write keep extending it.
	AckWait time.Duration
	// OnCommit, when set, is told each committed batch's posts and the time from the
	// batch being complete to its ack (the benchmark's latency percentiles).
	OnCommit func(posts int, latency time.Duration)
}

func (c Config) withDefaults() Config {
	if c.BatchPosts <= 0 {
		c.BatchPosts = 5000
	}
	if c.BatchWait <= 0 {
		c.BatchWait = 200 * time.Millisecond
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	return c
}

// Processor consumes posts and writes them.
//
// It works in two stages so that the engine and the CPU are busy at once: the main loop
// collects a batch, decodes it and derives its rows, then hands it to the commit stage,
// which writes, acks and announces batches one at a time in order, while the main loop
// derives the next one. A derived batch waits in a threads.Overlay until it is written,
// so the next batch is placed in its threads as if it had been written already.
type Processor struct {
	cfg     Config
	js      jetstream.JetStream
	derive  *derive.Deriver
	overlay *threads.Overlay
	stored  threads.Lookup // what is written, without the overlay
	write   Writer
	place   *bursts.Placer // nil when write is not a *storage.Writer (tests)
	metrics *Metrics
	log     *slog.Logger
	pub     *bus.Publisher
}

// Writer stores derived batches: a *storage.Writer, or a fake in tests. A failed Write
// is sorted by storage.Classify: recoverable errors are retried, rows ClickHouse rejects
// are dead-lettered, and a fatal error (the setup) stops the processor.
type Writer interface {
	Write(ctx context.Context, b *storage.Batch) error
	// WithoutDeleted drops the posts recorded as deleted at their source.
	WithoutDeleted(ctx context.Context, posts []*post.Post) ([]*post.Post, error)
}

// New returns a processor.
func New(cfg Config, js jetstream.JetStream, d *derive.Deriver, w Writer, m *Metrics, log *slog.Logger) *Processor {
	ov := threads.NewOverlay(d.Lookup())
	return &Processor{cfg: cfg.withDefaults(), js: js, derive: d.WithLookup(ov), overlay: ov, stored: d.Lookup(), write: w, place: placer(w), metrics: m, log: log, pub: bus.NewPublisher(js)}
}

// placer places detected sessions after writes through w: only a real writer, which
// reads what it wrote back from ClickHouse.
func placer(w Writer) *bursts.Placer {
	if sw, ok := w.(*storage.Writer); ok {
		return bursts.New(sw)
	}
	return nil
}

func (p *Processor) consumer(ctx context.Context) (jetstream.Consumer, error) {
	c, err := p.js.CreateOrUpdateConsumer(ctx, bus.PostsStream, jetstream.ConsumerConfig{
		Durable:       bus.ProcessorConsumer,
		Description:   "chatnight processors share this consumer",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.cfg.AckWait,
		MaxAckPending: 50000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", bus.ProcessorConsumer, bus.PostsStream, err)
	}
	return c, nil
}

// pullMaxBytes bounds what a processor pulls ahead of its batches: about 16,000
// single-post messages, or 70 bulk messages of 500 posts.
const pullMaxBytes = 16 << 20

// batch is what is being collected for the next write.
type batch struct {
	msgs  []jetstream.Msg
	posts int
}

// derived is a batch ready to be written.
type derived struct {
	id    string // the batch id: ClickHouse query ids and logs
	msgs  []jetstream.Msg
	posts int // decoded posts
	batch []*post.Post
	res   *derive.Result
	start time.Time // when the batch was complete
}

// Run processes until ctx is done. Messages of an unfinished batch are not acked and
// will be delivered again.
func (p *Processor) Run(ctx context.Context) error {
	cons, err := p.consumer(ctx)
	if err != nil {
		return err
	}
	// Bounded by bytes, not messages: a bulk message carries hundreds of posts.
	iter, err := cons.Messages(jetstream.PullMaxBytes(pullMaxBytes))
	if err != nil {
		return fmt.Errorf("consume %s: %w", bus.PostsStream, err)
	}
	msgs := make(chan jetstream.Msg, 256)
	pullDone := make(chan struct{})
	go func() {
		defer close(pullDone)
		defer close(msgs)
		for {
			m, err := iter.Next()
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				// JetStream went quiet (out of disk space, being reloaded): the iterator
				// pulls again by itself; the gap shows in the lag metric.
				p.log.Warn("no heartbeat from JetStream; pulling again", "err", err)
				continue
			}
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					p.log.Error("pulling posts stopped", "err", err)
				}
				return
			}
			msgs <- m
		}
	}()
	defer func() {
		iter.Stop()
		for range msgs { // unblock the puller; unacked messages are redelivered
		}
		<-pullDone
	}()
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		p.watchLag(lagCtx, cons)
	}()
	defer func() {
		stopLag()
		<-lagDone
	}()

	// The commit stage: one batch being written, one waiting.
	commitCtx, stopCommit := context.WithCancel(ctx)
	commits := make(chan *derived, 1)
	commitErr := make(chan error, 1)
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		for d := range commits {
			if err := p.commit(commitCtx, d); err != nil {
				commitErr <- err
				stopCommit()
				for range commits { // not written, not acked: redelivered
				}
				return
			}
		}
	}()
	defer func() {
		close(commits)
		<-commitDone
		stopCommit()
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var cur batch
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-commitErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case m, ok := <-msgs:
			if !ok {
				return errors.New("posts consumer closed")
			}
			if len(cur.msgs) == 0 {
				timer.Reset(p.cfg.BatchWait)
			}
			cur.msgs = append(cur.msgs, m)
			cur.posts += bus.PostsIn(m.Headers())
			if cur.posts < p.cfg.BatchPosts {
				continue
			}
		case <-timer.C:
		}
		timer.Stop()
		if len(cur.msgs) == 0 {
			continue
		}
		d, err := p.prepare(ctx, cur.msgs)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		cur = batch{}
		select {
		case commits <- d:
		case err := <-commitErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

// prepare decodes and derives one batch and puts it in the overlay; bad posts are
// published to the dead-letter stream (flushed before the batch is acked).
func (p *Processor) prepare(ctx context.Context, msgs []jetstream.Msg) (*derived, error) {
	start := time.Now()
	var posts []*post.Post
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "decode"), func(ctx context.Context) {
		for _, m := range msgs {
			good, bad := bus.DecodePosts(m.Headers(), m.Data())
			posts = append(posts, good...)
			for _, b := range bad {
				p.deadLetter(ctx, m, b)
			}
		}
	})
	// A post deleted at its source before it arrived here (a replay, a re-import, a
	// delete that overtook its post) is not written again.
	err := p.retry(ctx, msgs, "read deletions", func() error {
		var err error
		posts, err = p.write.WithoutDeleted(ctx, posts)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Deriving reads ClickHouse (thread placement), so it waits out an outage too.
	var res *derive.Result
	err = p.retry(ctx, msgs, "derive rows", func() (err error) {
		start := time.Now()
		pprof.Do(ctx, pprof.Labels(storage.StageLabel, "derive"), func(ctx context.Context) {
			res, err = p.derive.DeriveLive(ctx, posts)
		})
		p.metrics.DeriveDuration.Observe(time.Since(start).Seconds())
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Batch.Consent = consentRows(posts)
	id := batchID(msgs)
	res.Batch.ID = id
	p.overlay.Add(res.Batch)
	return &derived{id: id, msgs: msgs, posts: len(posts), batch: posts, res: res, start: start}, nil
}

// consentRows are the consent signals the batch's authors carried, one per account.
func consentRows(posts []*post.Post) []storage.ConsentRow {
	var out []storage.ConsentRow
	seen := map[string]bool{}
	for _, ps := range posts {
		c := ps.Author.Consent
		if c == nil || ps.Author.ID == "" || seen[ps.Author.ID] {
			continue
		}
		seen[ps.Author.ID] = true
		out = append(out, storage.ConsentRow{AccountID: ps.Author.ID, Handle: ps.Author.Handle, NoIndex: b2u(c.NoIndex),
			Indexable: b2u(c.Indexable), SeenAt: ps.CreatedAt, Version: uint64(ps.CreatedAt.UnixMilli())})
	}
	return out
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// commit writes one derived batch, then acks its messages and announces its posts. A
// batch whose rows ClickHouse rejects is written again message by message, and the
// messages that still cannot be written are dead-lettered with the reason, so one bad
// message neither blocks the stream nor takes the good posts around it along.
func (p *Processor) commit(ctx context.Context, d *derived) error {
	err := p.retry(ctx, d.msgs, "write batch "+d.id+" to ClickHouse", func() error { return p.writeBatch(ctx, d.res.Batch) })
	written := []*derived{d}
	if perm := rejected(err); perm != nil {
		written, err = p.writeApart(ctx, d, perm)
	}
	if err != nil {
		return err
	}
	p.overlay.Remove(d.res.Batch)
	for _, w := range written {
		err = p.retry(ctx, w.msgs, "reconcile threads", func() (err error) {
			pprof.Do(ctx, pprof.Labels(storage.StageLabel, "reconcile"), func(ctx context.Context) { err = p.reconcile(ctx, w) })
			return err
		})
		if err != nil {
			return err
		}
	}
	// Detected sessions are stored before the posts are announced, so the hub names a
	// live post's session by reading it.
	for _, w := range written {
		if p.place == nil {
			break
		}
		err = p.retry(ctx, w.msgs, "place detected sessions", func() error { return p.place.Place(ctx, w.res.Batch) })
		if err != nil {
			return err
		}
	}
	// Dead letters must be stored before their messages are acked.
	if err := p.pub.Flush(ctx); err != nil {
		return fmt.Errorf("store dead letters: %w", err)
	}
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "ack"), func(context.Context) {
		for _, m := range d.msgs {
			if err := m.Ack(); err != nil {
				// The write is done; a lost ack only means a harmless redelivery.
				p.log.Warn("ack failed; the batch will be delivered again", "err", err)
			}
		}
	})
	latency := time.Since(d.start)
	posts := 0
	for _, w := range written {
		posts += w.posts
	}
	p.metrics.Posts.Add(float64(posts))
	p.metrics.Batches.Observe(float64(posts))
	p.metrics.CommitLatency.Observe(latency.Seconds())
	if p.cfg.OnCommit != nil {
		p.cfg.OnCommit(posts, latency)
	}
	for _, w := range written {
		pprof.Do(ctx, pprof.Labels(storage.StageLabel, "announce"), func(ctx context.Context) { p.announce(ctx, w.res) })
	}
	return nil
}

func (p *Processor) writeBatch(ctx context.Context, b *storage.Batch) error {
	start := time.Now()
	var err error
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "write"), func(ctx context.Context) { err = p.write.Write(ctx, b) })
	p.metrics.WriteDuration.Observe(time.Since(start).Seconds())
	return err
}

// writeApart writes the messages of a batch that failed for good one at a time, each
// derived again (its batch is still in the overlay, so threads place as before), and
// dead-letters those that fail for good too. It returns what was written.
func (p *Processor) writeApart(ctx context.Context, d *derived, cause *permanentError) ([]*derived, error) {
	if len(d.msgs) == 1 {
		p.parkUnwritable(ctx, d.msgs[0], cause)
		return nil, nil
	}
	p.log.Warn("ClickHouse refused a batch; writing its messages one by one", "batch", d.id, "messages", len(d.msgs), "err", brief(cause))
	var written []*derived
	for _, m := range d.msgs {
		posts, _ := bus.DecodePosts(m.Headers(), m.Data()) // bad lines were dead-lettered by prepare
		var res *derive.Result
		err := p.retry(ctx, []jetstream.Msg{m}, "derive rows", func() (err error) {
			res, err = p.derive.DeriveLive(ctx, posts)
			return err
		})
		if err != nil {
			return nil, err
		}
		one := &derived{id: batchID([]jetstream.Msg{m}), msgs: []jetstream.Msg{m}, posts: len(posts), batch: posts, res: res, start: d.start}
		res.Batch.ID = one.id
		err = p.retry(ctx, one.msgs, "write message "+one.id+" to ClickHouse", func() error { return p.writeBatch(ctx, res.Batch) })
		if perm := rejected(err); perm != nil {
			p.parkUnwritable(ctx, m, perm)
			continue
		}
		if err != nil {
			return nil, err
		}
		written = append(written, one)
	}
	return written, nil
}

// parkUnwritable dead-letters a message ClickHouse will not store, with the reason. It
// is acked with its batch once the dead letter is stored.
func (p *Processor) parkUnwritable(ctx context.Context, m jetstream.Msg, cause *permanentError) {
	p.metrics.DeadLetters.WithLabelValues(DeadWrite).Inc()
	origin := msgOrigin(m)
	p.log.Error("ClickHouse refused a message for good; parked on "+bus.DeadLetterSubject(DeadWrite), "origin", origin, "reason", cause.reason, "err", brief(cause))
	if err := p.pub.DeadLetter(ctx, DeadWrite, origin, m.Data(), cause); err != nil {
		p.log.Error("dead letter not stored", "origin", origin, "err", err)
	}
}

// batchID names a batch after the stream sequences of its first and last message, so a
// batch delivered again keeps its name.
func batchID(msgs []jetstream.Msg) string {
	first, err1 := msgs[0].Metadata()
	last, err2 := msgs[len(msgs)-1].Metadata()
	if err1 != nil || err2 != nil {
		return ""
	}
	if len(msgs) == 1 {
		return fmt.Sprintf("posts-%d", first.Sequence.Stream)
	}
	return fmt.Sprintf("posts-%d-%d", first.Sequence.Stream, last.Sequence.Stream)
}

func msgOrigin(m jetstream.Msg) string {
	if md, err := m.Metadata(); err == nil {
		return fmt.Sprintf("%s seq %d", m.Subject(), md.Sequence.Stream)
	}
	return m.Subject()
}

// reconcile closes the one gap of deriving in several processes at once: a reply and
// its parent derived at the same moment by two processors, each before the other's
// batch was stored, both miss each other. Once its batch is written, each processor
// looks again, in what is stored: for its replies whose parent was missing, and for
// stored replies (from elsewhere) to its posts. Of two such batches at least one looks
// after both are written, so it finds the other and derives the posts concerned again,
// which places the reply and adds what its parent implies. Both look-ups read the
// narrow index tables and find nothing in the common case.
func (p *Processor) reconcile(ctx context.Context, d *derived) error {
	type key struct{ community, id string }
	inBatch := make(map[key]*post.Post, len(d.batch))
	byCommunity := map[string][]string{}
	for _, ps := range d.batch {
		k := key{ps.Community, ps.ID}
		if inBatch[k] == nil {
			byCommunity[ps.Community] = append(byCommunity[ps.Community], ps.ID)
		}
		inBatch[k] = ps
	}
	again := map[key]bool{}
	// Replies whose parent was missing: is it stored now?
	orphans := map[string]map[string][]string{} // community -> parent -> children
	for _, o := range d.res.Orphans {
		if orphans[o.Community] == nil {
			orphans[o.Community] = map[string][]string{}
		}
		orphans[o.Community][o.ParentID] = append(orphans[o.Community][o.ParentID], o.ID)
	}
	for c, kids := range orphans {
		parents := make([]string, 0, len(kids))
		for id := range kids {
			parents = append(parents, id)
		}
		found, err := p.stored.Posts(ctx, c, parents)
		if err != nil {
			return err
		}
		for _, r := range found {
			for _, id := range kids[r.ID] {
				again[key{c, id}] = true
			}
		}
	}
	// Posts of the batch with stored replies the batch did not see.
	for c, ids := range byCommunity {
		replies, err := threads.ReplyIDs(ctx, p.stored, c, ids)
		if err != nil {
			return err
		}
		seen := d.adopted(c, len(inBatch))
		for parent, kids := range replies {
			for _, id := range kids {
				if inBatch[key{c, id}] == nil && !seen[id] {
					again[key{c, parent}] = true
				}
			}
		}
	}
	if len(again) == 0 {
		return nil
	}
	posts := make([]*post.Post, 0, len(again))
	for _, ps := range d.batch {
		if again[key{ps.Community, ps.ID}] {
			posts = append(posts, ps)
			delete(again, key{ps.Community, ps.ID})
		}
	}
	p.log.Debug("placing posts again that another processor's batch concerned", "posts", len(posts))
	res, err := p.derive.DeriveLive(ctx, posts)
	if err != nil {
		return err
	}
	if d.id != "" {
		res.Batch.ID = d.id + "-again"
	}
	return p.write.Write(ctx, res.Batch)
}

// adopted returns the stored posts the batch's derivation already found replying to
// its posts (placed again with it), by id.
// uniq is the number of distinct posts of the batch: the rows after them are stored
// posts placed again.
func (d *derived) adopted(community string, uniq int) map[string]bool {
	out := map[string]bool{}
	for _, l := range d.res.Live {
		if l.Rethreaded && l.Community == community {
			out[l.PostID] = true
		}
	}
	for i := uniq; i < len(d.res.Batch.Posts); i++ {
		if r := &d.res.Batch.Posts[i]; r.Community == community {
			out[r.ID] = true
		}
	}
	return out
}

// retry runs step until it succeeds, fails for good or ctx ends. Only errors that
// storage.Classify calls recoverable are retried, with backoff; others come back as a
// *permanentError. While ClickHouse is away the processor pulls nothing new: JetStream
// holds the backlog.
func (p *Processor) retry(ctx context.Context, msgs []jetstream.Msg, what string, step func() error) error {
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second}
	for attempt := 1; ; attempt++ {
		err := step()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.metrics.WriteErrors.Inc()
		reason, verdict := storage.Classify(err)
		if verdict != storage.Recoverable {
			return &permanentError{what: what, reason: reason, verdict: verdict, err: err}
		}
		wait := bo.Next()
		p.log.Warn(what+" failed; retrying", "attempt", attempt, "messages", len(msgs), "reason", reason, "retry_in", wait.Round(time.Millisecond), "err", brief(err))
		for _, m := range msgs {
			_ = m.InProgress() // keep the messages ours while we retry
		}
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// permanentError is a step that failed in a way retrying cannot fix.
type permanentError struct {
	what, reason string
	verdict      storage.Verdict
	err          error
}

func (e *permanentError) Error() string {
	if e.verdict == storage.Fatal {
		return fmt.Sprintf("%s failed for good (%s): %v; fix the ClickHouse user, its grants or the schema (chatnight migrate), then restart: the posts wait in JetStream", e.what, e.reason, e.err)
	}
	return fmt.Sprintf("%s failed for good (%s): %v", e.what, e.reason, e.err)
}

// rejected returns err as a *permanentError when it says the rows themselves are
// refused (storage.Rejected), so they are dead-lettered rather than retried; nil
// otherwise.
func rejected(err error) *permanentError {
	var perm *permanentError
	if errors.As(err, &perm) && perm.verdict == storage.Rejected {
		return perm
	}
	return nil
}

func (e *permanentError) Unwrap() error { return e.err }

// brief keeps logged errors readable: clickhouse-go quotes whole request URLs.
func brief(err error) string {
	const limit = 400
	s := err.Error()
	if len(s) <= limit {
		return s
	}
	return s[:limit/2] + " … " + s[len(s)-limit/2:]
}

func (p *Processor) deadLetter(ctx context.Context, m jetstream.Msg, bad post.BadLine) {
	p.metrics.DeadLetters.WithLabelValues(DeadDecode).Inc()
	origin := fmt.Sprintf("%s line %d", msgOrigin(m), bad.Line)
	p.log.Warn("bad post parked", "origin", origin, "bytes", len(bad.Raw), "err", bad.Err)
	if err := p.pub.DeadLetter(ctx, DeadDecode, origin, bad.Raw, bad.Err); err != nil {
		p.log.Error("dead letter not stored", "origin", origin, "err", err)
	}
	// On record for the completeness of the collection, under the community the
	// message was for (posts.<community>.<source>).
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := steward.Event{Source: "process", Community: communityOf(m.Subject()), From: now, To: now, Kind: steward.KindDeadLetter,
		Detail: origin + ": " + bad.Err.Error(), Count: 1}
	if len(ev.Detail) > 2048 {
		ev.Detail = ev.Detail[:2048]
	}
	if msg, err := steward.CompletenessMsg(ev); err == nil {
		if err := p.pub.PublishMsg(ctx, msg); err != nil {
			p.log.Error("dead letter not on record", "origin", origin, "err", err)
		}
	}
}

// communityOf is the community token of a posts subject, "" for another subject.
func communityOf(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) == 3 && parts[0] == "posts" && post.ValidCommunity(parts[1]) == nil {
		return parts[1]
	}
	return ""
}

// watchLag reports how many messages wait for the processors.
func (p *Processor) watchLag(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			info, err := cons.Info(ctx)
			if err != nil {
				continue
			}
			p.metrics.Pending.Set(float64(info.NumPending))
			p.metrics.AckPending.Set(float64(info.NumAckPending))
		}
	}
}
