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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/bus"
	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/post"
	"github.com/chatnight/chatnight/storage"
)

// Config tunes batching.
type Config struct {
	BatchPosts int           // write when a batch holds this many posts (default 5000)
	BatchWait  time.Duration // or when its first message is this old (default 200ms)
	// AckWait is how long JetStream waits for an ack before delivering a message to
	// another processor; retries of a slow write keep extending it.
	AckWait time.Duration
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
type Processor struct {
	cfg     Config
	js      jetstream.JetStream
	derive  *derive.Deriver
	write   *storage.Writer
	metrics *Metrics
	log     *slog.Logger
	pub     *bus.Publisher
}

// New returns a processor.
func New(cfg Config, js jetstream.JetStream, d *derive.Deriver, w *storage.Writer, m *Metrics, log *slog.Logger) *Processor {
	return &Processor{cfg: cfg.withDefaults(), js: js, derive: d, write: w, metrics: m, log: log, pub: bus.NewPublisher(js)}
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

// batch is what is being collected for the next write.
type batch struct {
	msgs  []jetstream.Msg
	posts int
}

// Run processes until ctx is done. Messages of an unfinished batch are not acked and
// will be delivered again.
func (p *Processor) Run(ctx context.Context) error {
	cons, err := p.consumer(ctx)
	if err != nil {
		return err
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("consume %s: %w", bus.PostsStream, err)
	}
	msgs := make(chan jetstream.Msg, 1000)
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

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var cur batch
	for {
		select {
		case <-ctx.Done():
			return nil
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
		if err := p.process(ctx, cur.msgs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		cur = batch{}
	}
}

// postsIn is how many posts a message carries, from its header (bulk) or 1.
func postsIn(m jetstream.Msg) int {
	var n int
	if h := m.Headers().Get(bus.HeaderBatchPosts); h != "" {
		if _, err := fmt.Sscan(h, &n); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// process decodes, derives, writes and then acks one batch.
func (p *Processor) process(ctx context.Context, msgs []jetstream.Msg) error {
	start := time.Now()
	var posts []*post.Post
	for _, m := range msgs {
		good, bad := post.Decode(m.Data())
		posts = append(posts, good...)
		for _, b := range bad {
			p.deadLetter(ctx, m, b)
		}
	}
	// Deriving reads ClickHouse (thread placement), so it waits out an outage too.
	var res *derive.Result
	err := p.retry(ctx, msgs, "derive rows", func() (err error) {
		start := time.Now()
		res, err = p.derive.DeriveLive(ctx, posts)
		p.metrics.DeriveDuration.Observe(time.Since(start).Seconds())
		return err
	})
	if err != nil {
		return err
	}
	err = p.retry(ctx, msgs, "write batch to ClickHouse", func() error {
		start := time.Now()
		err := p.write.Write(ctx, res.Batch)
		p.metrics.WriteDuration.Observe(time.Since(start).Seconds())
		return err
	})
	if err != nil {
		return err
	}
	// Dead letters must be stored before their messages are acked.
	if err := p.pub.Flush(ctx); err != nil {
		return fmt.Errorf("store dead letters: %w", err)
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			// The write is done; a lost ack only means a harmless redelivery.
			p.log.Warn("ack failed; the batch will be delivered again", "err", err)
		}
	}
	p.metrics.Posts.Add(float64(len(posts)))
	p.metrics.Batches.Observe(float64(len(posts)))
	p.metrics.CommitLatency.Observe(time.Since(start).Seconds())
	p.announce(ctx, res)
	return nil
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
