package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/steward"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// Steward consumes the STEWARD stream through its shared durable consumer: it writes
// completeness events and deletions to ClickHouse, removes deleted posts from every
// table and places their detected sessions again (bursts.RemovePosts), acks, and then
// tells live pages to drop them. It also
// erases deleted posts from disk once they are older than Retention.
type Steward struct {
	js   jetstream.JetStream
	conn driver.Conn
	log  *slog.Logger
	pub  *bus.Publisher
	// Communities gives each community's session gap, for placing detected sessions
	// again after deletions; nil: the default gap.
	Communities *community.Config
	// Retention is how long deleted posts' rows stay on disk (masked) before they are
	// purged; 0 means the default, 24h; negative turns automatic purging off.
	Retention time.Duration
	// PurgeEvery is how often the purge runs; default an hour, at most Retention.
	PurgeEvery time.Duration
	// BatchWait bounds how long a batch collects; default 200ms.
	BatchWait time.Duration
}

// NewSteward writes through conn.
func NewSteward(js jetstream.JetStream, conn driver.Conn, log *slog.Logger) *Steward {
	return &Steward{js: js, conn: conn, log: log, pub: bus.NewPublisher(js)}
}

// Run consumes until ctx ends.
func (s *Steward) Run(ctx context.Context) error {
	cons, err := s.js.CreateOrUpdateConsumer(ctx, bus.StewardStream, jetstream.ConsumerConfig{
		Durable:       bus.StewardConsumer,
		Description:   "chatnight processors write completeness events and deletions",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 10000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", bus.StewardConsumer, bus.StewardStream, err)
	}
	wait := s.BatchWait
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	retention := s.Retention
	if retention == 0 {
		retention = 24 * time.Hour
	}
	every := s.PurgeEvery
	if every <= 0 {
		every = time.Hour
	}
	if retention > 0 && every > retention {
		every = retention
	}
	nextPurge := time.Now()
	for ctx.Err() == nil {
		if retention > 0 && !time.Now().Before(nextPurge) {
			nextPurge = time.Now().Add(every)
			if n, err := storage.Purge(ctx, s.conn, time.Now().Add(-retention), s.remove); err != nil {
				s.log.Warn("purging deleted posts failed; retrying later", "err", err)
			} else if n > 0 {
				s.log.Info("purged deleted posts from disk", "posts", n, "retention", retention)
			}
		}
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(wait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch from %s: %w", bus.StewardStream, err)
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			s.log.Warn("fetching steward messages", "err", err)
		}
		if len(msgs) == 0 {
			continue
		}
		if err := s.handle(ctx, msgs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// handle writes one batch, retrying while ClickHouse is away, then acks it.
func (s *Steward) handle(ctx context.Context, msgs []jetstream.Msg) error {
	now := time.Now().UTC()
	var events []storage.CompletenessRow
	var deletions []storage.DeletionRow
	seen := map[string]bool{}
	for _, m := range msgs {
		subject := m.Subject()
		switch {
		case strings.HasPrefix(subject, "steward.completeness."):
			good, bad := steward.Decode(m.Data(), (*steward.Event).Validate)
			for _, e := range good {
				events = append(events, storage.CompletenessRow{Source: e.Source, Community: e.Community, From: e.From, To: e.To,
					Kind: e.Kind, Detail: e.Detail, Count: e.Count, EventID: e.ID(), RecordedAt: now})
			}
			s.logBad(subject, bad)
		case strings.HasPrefix(subject, "steward.deletions."):
			good, bad := steward.Decode(m.Data(), (*steward.Deletion).Validate)
			for _, d := range good {
				if seen[d.PostID] {
					continue
				}
				seen[d.PostID] = true
				deletions = append(deletions, storage.DeletionRow{PostID: d.PostID, Source: d.Source, Reason: d.Reason,
					DeletedAt: d.At, RecordedAt: now, Version: uint64(now.UnixNano())})
			}
			s.logBad(subject, bad)
		default:
			s.log.Warn("unknown steward subject; message dropped", "subject", subject)
		}
	}
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second}
	for attempt := 1; ; attempt++ {
		err := storage.WriteCompleteness(ctx, s.conn, events)
		if err == nil {
			err = storage.WriteDeletions(ctx, s.conn, deletions)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := bo.Next()
		s.log.Warn("writing completeness events and deletions failed; retrying", "attempt", attempt, "retry_in", wait, "err", brief(err))
		for _, m := range msgs {
			_ = m.InProgress()
		}
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	// The deletions are stored: new copies of those posts are refused from now on.
	// Removing the stored rows is retried a few times here; if it still fails (an
	// engine that refuses lightweight deletes), the purge removes them later, so the
	// stream is not held up.
	affected, err := s.removePosts(ctx, deletions)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Error("deleted posts not removed yet; the purge after deleted_retention tries again", "deletions", len(deletions), "err", brief(err))
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			s.log.Warn("ack failed; the messages will be delivered again", "err", err)
		}
	}
	for _, a := range affected {
		events := make([]live.Event, len(a.PostIDs))
		for i, id := range a.PostIDs {
			events[i] = live.Event{Type: live.TypeDelete, Community: a.Community, PostID: id}
		}
		body, err := live.Encode(events)
		if err != nil {
			continue
		}
		msg := nats.NewMsg(bus.LiveSubject(a.Community))
		msg.Data = body
		if err := s.pub.PublishMsg(ctx, msg); err != nil {
			s.log.Warn("delete events not published", "community", a.Community, "err", err)
		}
	}
	if err := s.pub.Flush(ctx); err != nil {
		s.log.Warn("delete events not published", "err", err)
	}
	if len(deletions) > 0 {
		removed := 0
		for _, a := range affected {
			removed += len(a.PostIDs)
		}
		s.log.Info("deletions recorded", "deletions", len(deletions), "stored_posts_removed", removed, "communities", len(affected))
	}
	return nil
}

func (s *Steward) logBad(subject string, bad []error) {
	for _, err := range bad {
		s.log.Warn("bad steward record dropped", "subject", subject, "err", err)
	}
}

// removePosts removes the deleted posts from every table, with three attempts.
func (s *Steward) removePosts(ctx context.Context, deletions []storage.DeletionRow) ([]storage.Affected, error) {
	if len(deletions) == 0 {
		return nil, nil
	}
	ids := make([]string, len(deletions))
	for i, d := range deletions {
		ids[i] = d.PostID
	}
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 2 * time.Second}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var affected []storage.Affected
		if affected, err = bursts.RemovePosts(ctx, storage.NewWriter(s.conn, nil), s.Communities, ids); err == nil {
			return affected, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if attempt < 3 {
			if err := backoff.Sleep(ctx, bo.Next()); err != nil {
				return nil, err
			}
		}
	}
	return nil, err
}

// remove is Purge's removal: the posts again, with their detected sessions placed.
func (s *Steward) remove(ctx context.Context, ids []string) error {
	_, err := bursts.RemovePosts(ctx, storage.NewWriter(s.conn, nil), s.Communities, ids)
	return err
}
