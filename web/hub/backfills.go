package hub

import (
	"context"
	"fmt"
	"sync"

	"github.com/chatnight/chatnight/web/readmodel"
)

// Backfills are the hub's largest allocations: a session of 20,000 posts is tens of MB in
// memory. Viewers opening the same session at once share one snapshot, held only until each
// has been sent it (one chunk of BackfillChunk posts is encoded at a time per viewer), and
// at most MaxBackfills distinct snapshots are held at once, hub-wide; a viewer that would
// need another waits up to BackfillWait, then is refused with 503. Non-reading sockets from
// many addresses therefore hold at most MaxBackfills snapshots, not one each.

// sharedSnapshot is one snapshot and the stream sequence read before it was queried.
type sharedSnapshot struct {
	done chan struct{} // closed when snap and err are set
	last uint64
	snap readmodel.Snapshot
	err  error
	refs int
}

type backfills struct {
	slots chan struct{} // one per distinct snapshot held
	mu    sync.Mutex
	held  map[string]*sharedSnapshot
}

func newBackfills(max int) *backfills {
	return &backfills{slots: make(chan struct{}, max), held: map[string]*sharedSnapshot{}}
}

// get returns the snapshot of community's session, shared with the viewers getting it at
// the same time, and a release to call once it has been sent. last is the caller's stream
// sequence, read before calling; a shared snapshot comes with the sequence its own query
// started from, which the caller uses instead (catching up from there).
func (b *backfills) get(ctx context.Context, community, session string, last uint64,
	fetch func(context.Context) (readmodel.Snapshot, error)) (*sharedSnapshot, func(), error) {
	key := community + "\x00" + session
	b.mu.Lock()
	if s, ok := b.held[key]; ok {
		s.refs++
		b.mu.Unlock()
		release := b.releaser(key, s)
		select {
		case <-s.done:
		case <-ctx.Done():
			release()
			return nil, nil, fmt.Errorf("wait for the backfill: %w", context.Cause(ctx))
		}
		if s.err != nil {
			release()
			return nil, nil, s.err
		}
		return s, release, nil
	}
	b.mu.Unlock()

	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("too many backfills in progress: %w", context.Cause(ctx))
	}
	b.mu.Lock()
	if _, ok := b.held[key]; ok { // another viewer started it while this one waited: share it
		b.mu.Unlock()
		<-b.slots
		return b.get(ctx, community, session, last, fetch)
	}
	s := &sharedSnapshot{done: make(chan struct{}), last: last, refs: 1}
	b.held[key] = s
	b.mu.Unlock()
	s.snap, s.err = fetch(ctx)
	close(s.done)
	release := b.releaser(key, s)
	if s.err != nil {
		release()
		return nil, nil, s.err
	}
	return s, release, nil
}

// releaser returns a function that drops one reference to s, once.
func (b *backfills) releaser(key string, s *sharedSnapshot) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			s.refs--
			if s.refs == 0 {
				if b.held[key] == s {
					delete(b.held, key)
				}
				<-b.slots
			}
		})
	}
}
