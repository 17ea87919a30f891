// Package backoff spaces out retries: exponential waits with jitter, and a sleep that
// ends with its context. Sources, the processor and the web hub all retry with it.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff grows the wait between retries exponentially with full jitter, so that many
// clients failing together do not retry in lock step. The zero value waits from 500ms
// up to 2 minutes.
type Backoff struct {
	Min, Max time.Duration
	attempt  int
}

// Next returns how long to wait before the next retry.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 500 * time.Millisecond
	}
	if hi <= 0 {
		hi = 2 * time.Minute
	}
	d := lo << min(b.attempt, 30)
	if d <= 0 || d > hi {
		d = hi
	}
	b.attempt++
	return d/2 + rand.N(d/2+1)
}

// Reset starts over after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Wait sleeps for Next() or until ctx is done.
func (b *Backoff) Wait(ctx context.Context) error { return Sleep(ctx, b.Next()) }

// Sleep waits for d or until ctx is done, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
