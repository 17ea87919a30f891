package simulator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/qa"
)

// lookBack bounds how far back NextQuestion reads simulated posts.
const lookBack = 3 * time.Hour

// NextQuestion says which question number a simulated night starting at now should
// open with: 1, unless the simulated posts of community in JetStream show a night that
// is still within gap of now (the demo was restarted), whose session the new night
// joins; then the number after its highest question.
func NextQuestion(ctx context.Context, js jetstream.JetStream, communityID string, gap time.Duration, now time.Time) (int, error) {
	stream, err := js.Stream(ctx, bus.PostsStream)
	if err != nil {
		return 1, fmt.Errorf("simulated nights: %w", err)
	}
	subject := bus.PostsSubject(communityID, post.SourceSim)
	lastMsg, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 1, nil
	}
	if err != nil {
		return 1, fmt.Errorf("simulated nights: %w", err)
	}
	cons, err := js.OrderedConsumer(ctx, bus.PostsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   ptr(now.Add(-lookBack)),
	})
	if err != nil {
		return 1, fmt.Errorf("simulated nights: %w", err)
	}
	var (
		last time.Time
		maxQ int
	)
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
				break
			}
			return 1, fmt.Errorf("simulated nights: %w", err)
		}
		posts, _ := bus.DecodePosts(msg.Headers(), msg.Data()) // compact or JSON, as the publisher chose
		for _, p := range posts {
			if !last.IsZero() && p.CreatedAt.Sub(last) >= gap {
				maxQ = 0 // a silence as long as the gap: a new session began
			}
			if p.CreatedAt.After(last) {
				last = p.CreatedAt
			}
			for _, m := range qa.Parse(p.Text) {
				if m.Kind == qa.Question {
					maxQ = max(maxQ, m.Number)
				}
			}
		}
		if meta, err := msg.Metadata(); err == nil && meta.Sequence.Stream >= lastMsg.Sequence {
			break
		}
	}
	if last.IsZero() || now.Sub(last) >= gap || maxQ == 0 {
		return 1, nil
	}
	return maxQ + 1, nil
}

func ptr[T any](v T) *T { return &v }
