package simulator

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Options control how a night is published.
type Options struct {
	// Rate paces publishing in posts per second; each post then carries the time it was
	// published, so the night unfolds live. 0 publishes as fast as possible with the
	// generated times, many posts per message.
	Rate float64
	// BatchSize is how many posts go in one message when Rate is 0.
	BatchSize int
	// Progress, when set, gets a line now and then.
	Progress io.Writer
}

// Summary says what was published.
type Summary struct {
	Posts      int // posts generated
	Messages   int // messages sent
	Stored     int // messages JetStream stored as new
	Duplicates int // messages JetStream already had (same seed published before)
}

// Publish generates night and publishes it through em, returning once JetStream has
// acknowledged every message.
func Publish(ctx context.Context, night Night, opts Options, em *ingest.Emitter) (Summary, error) {
	posts := Generate(night)
	sum := Summary{Posts: len(posts)}
	if opts.Rate > 0 {
		if err := publishPaced(ctx, posts, opts, em, &sum); err != nil {
			return sum, err
		}
	} else {
		size := opts.BatchSize
		if size <= 0 {
			size = 500
		}
		for i := 0; i < len(posts); i += size {
			chunk := posts[i:min(i+size, len(posts))]
			// The batch id depends only on the night and the chunk, so publishing the
			// same seed again is dropped by JetStream.
			id := fmt.Sprintf("sim|%s|%d|%d|%d|%d", night.Community.ID, night.Seed, night.Start.UnixMilli(), len(posts), i)
			if err := em.Batch(ctx, night.Community.ID, post.SourceSim, id, chunk); err != nil {
				return sum, fmt.Errorf("publish simulated posts: %w", err)
			}
			sum.Messages++
		}
	}
	if err := em.Flush(ctx); err != nil {
		return sum, fmt.Errorf("publish simulated posts: %w", err)
	}
	sum.Stored, sum.Duplicates = em.Counts()
	return sum, nil
}

func publishPaced(ctx context.Context, posts []*post.Post, opts Options, em *ingest.Emitter, sum *Summary) error {
	interval := time.Duration(float64(time.Second) / opts.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastReport := time.Now()
	for i, p := range posts {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		p.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
		if err := em.Post(ctx, p); err != nil {
			return fmt.Errorf("publish simulated post: %w", err)
		}
		sum.Messages++
		if opts.Progress != nil && time.Since(lastReport) > 5*time.Second {
			fmt.Fprintf(opts.Progress, "simulate: %d/%d posts published\n", i+1, len(posts))
			lastReport = time.Now()
		}
		if (i+1)%100 == 0 {
			if err := em.Flush(ctx); err != nil {
				return fmt.Errorf("publish simulated posts: %w", err)
			}
		}
	}
	return nil
}
