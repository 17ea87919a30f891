package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNextGrowsWithinBounds(t *testing.T) {
	tests := []struct {
		name     string
		b        Backoff
		attempts int
		// the n-th wait (from 0) lies in [lo(n), hi(n)]
		hi func(n int) time.Duration
	}{
		{"doubles from Min to Max", Backoff{Min: 100 * time.Millisecond, Max: time.Second}, 8, func(n int) time.Duration {
			return min(100*time.Millisecond<<n, time.Second)
		}},
		{"zero value takes the defaults", Backoff{}, 12, func(n int) time.Duration {
			return min(500*time.Millisecond<<n, 2*time.Minute)
		}},
		{"no overflow after many attempts", Backoff{Min: time.Second, Max: time.Hour}, 80, func(n int) time.Duration {
			if n > 20 {
				return time.Hour
			}
			return min(time.Second<<n, time.Hour)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			for n := 0; n < tt.attempts; n++ {
				got, hi := b.Next(), tt.hi(n)
				if got < hi/2 || got > hi {
					t.Fatalf("wait %d = %v, want within [%v, %v]", n, got, hi/2, hi)
				}
			}
			b.Reset()
			if got, hi := b.Next(), tt.hi(0); got > hi {
				t.Errorf("after Reset the wait is %v, want at most %v", got, hi)
			}
		})
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a done context = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v, want nil", err)
	}
	b := Backoff{Min: time.Hour}
	if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a done context = %v, want context.Canceled", err)
	}
}
