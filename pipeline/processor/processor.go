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
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/post"
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
	write   *storage.Writer
	metrics *Metrics
	log     *slog.Logger
	pub     *bus.Publisher
}

// New returns a processor.
func New(cfg Config, js jetstream.JetStream, d *derive.Deriver, w *storage.Writer, m *Metrics, log *slog.Logger) *Processor {
	ov := threads.NewOverlay(d.Lookup())
	return &Processor{cfg: cfg.withDefaults(), js: js, derive: d.WithLookup(ov), overlay: ov, stored: d.Lookup(), write: w, metrics: m, log: log, pub: bus.NewPublisher(js)}
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
			cur.posts += postsIn(m)
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

// postsIn is how many posts a message carries, from its header (bulk) or 1.
func postsIn(m jetstream.Msg) int {
	if h := m.Headers().Get(bus.HeaderBatchPosts); h != "" {
		if n, err := strconv.Atoi(h); err == nil && n > 0 {
			return n
		}
	}
	return 1
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
	// Deriving reads ClickHouse (thread placement), so it waits out an outage too.
	var res *derive.Result
	err := p.retry(ctx, msgs, "derive rows", func() (err error) {
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
	p.overlay.Add(res.Batch)
	return &derived{msgs: msgs, posts: len(posts), batch: posts, res: res, start: start}, nil
}

// commit writes one derived batch, then acks its messages and announces its posts.
func (p *Processor) commit(ctx context.Context, d *derived) error {
	err := p.retry(ctx, d.msgs, "write batch to ClickHouse", func() error {
		start := time.Now()
		var err error
		pprof.Do(ctx, pprof.Labels(storage.StageLabel, "write"), func(ctx context.Context) {
			err = p.write.Write(ctx, d.res.Batch)
		})
		p.metrics.WriteDuration.Observe(time.Since(start).Seconds())
		return err
	})
	if err != nil {
		return err
	}
	p.overlay.Remove(d.res.Batch)
	err = p.retry(ctx, d.msgs, "reconcile threads", func() (err error) {
		pprof.Do(ctx, pprof.Labels(storage.StageLabel, "reconcile"), func(ctx context.Context) { err = p.reconcile(ctx, d) })
		return err
	})
	if err != nil {
		return err
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
	p.metrics.Posts.Add(float64(d.posts))
	p.metrics.Batches.Observe(float64(d.posts))
	p.metrics.CommitLatency.Observe(latency.Seconds())
	if p.cfg.OnCommit != nil {
		p.cfg.OnCommit(d.posts, latency)
	}
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "announce"), func(ctx context.Context) { p.announce(ctx, d.res) })
	return nil
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

// retry runs step until it succeeds or ctx ends. While ClickHouse is away the
// processor pulls nothing new: JetStream holds the backlog.
func (p *Processor) retry(ctx context.Context, msgs []jetstream.Msg, what string, step func() error) error {
	backoff := ingest.Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second}
	for attempt := 1; ; attempt++ {
		err := step()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.metrics.WriteErrors.Inc()
		wait := backoff.Next()
		p.log.Warn(what+" failed; retrying", "attempt", attempt, "messages", len(msgs), "retry_in", wait.Round(time.Millisecond), "err", brief(err))
		for _, m := range msgs {
			_ = m.InProgress() // keep the messages ours while we retry
		}
		if err := ingest.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

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
	p.metrics.DeadLetters.Inc()
	origin := m.Subject()
	if md, err := m.Metadata(); err == nil {
		origin = fmt.Sprintf("%s seq %d line %d", m.Subject(), md.Sequence.Stream, bad.Line)
	}
	p.log.Warn("bad post parked", "origin", origin, "bytes", len(bad.Raw), "err", bad.Err)
	dl := nats.NewMsg(bus.DeadLetterSubject("process"))
	dl.Data = bad.Raw
	dl.Header.Set(bus.HeaderError, bad.Err.Error())
	dl.Header.Set(bus.HeaderOrigin, origin)
	if err := p.pub.PublishMsg(ctx, dl); err != nil {
		p.log.Error("dead letter not stored", "origin", origin, "err", err)
	}
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
