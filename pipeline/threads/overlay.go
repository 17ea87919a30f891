package threads

import (
	"context"
	"sync"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// Overlay is a Lookup over a base Lookup (ClickHouse) plus the posts of batches that are
// derived but not written yet. It lets a processor derive batch N+1 while batch N is
// being written: N's posts are read from memory exactly as they will be stored, so the
// placement is what it would be had N been written first. Batches must be written in
// the order they were added, and removed only once written.
type Overlay struct {
	base Lookup

	mu      sync.Mutex
	batches []*storage.Batch // in the order they were derived
}

// NewOverlay returns an Overlay over base with no batches.
func NewOverlay(base Lookup) *Overlay { return &Overlay{base: base} }

// Add makes b's posts visible to look-ups until Remove(b).
func (o *Overlay) Add(b *storage.Batch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, b)
}

// Remove drops b, which is now stored.
func (o *Overlay) Remove(b *storage.Batch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, x := range o.batches {
		if x == b {
			o.batches = append(o.batches[:i], o.batches[i+1:]...)
			return
		}
	}
}

// Len is the number of batches not written yet.
func (o *Overlay) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.batches)
}

// pending returns the newest pending row of each post of community, by id, keeping
// those match accepts. A later batch, and a later row within a batch (a post placed
// again), holds the newer version.
func (o *Overlay) pending(community string, match func(*storage.PostRow) bool) map[string]storage.PostRow {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out map[string]storage.PostRow
	for _, b := range o.batches {
		for i := range b.Posts {
			r := &b.Posts[i]
			if r.Community != community {
				continue
			}
			if old, ok := out[r.ID]; ok && old.Version > r.Version {
				continue
			}
			if match(r) {
				if out == nil {
					out = map[string]storage.PostRow{}
				}
				out[r.ID] = clonePost(*r)
			} else if out != nil {
				delete(out, r.ID) // a newer row of the same post no longer matches
			}
		}
	}
	return out
}

// Posts implements Lookup: pending rows win over stored ones.
func (o *Overlay) Posts(ctx context.Context, community string, ids []string) ([]storage.PostRow, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	mem := o.pending(community, func(r *storage.PostRow) bool { return want[r.ID] })
	rest := ids
	if len(mem) > 0 {
		rest = make([]string, 0, len(ids))
		for _, id := range ids {
			if _, ok := mem[id]; !ok {
				rest = append(rest, id)
			}
		}
	}
	var out []storage.PostRow
	if len(rest) > 0 {
		stored, err := o.base.Posts(ctx, community, rest)
		if err != nil {
			return nil, err
		}
		out = stored
	}
	for _, r := range mem {
		out = append(out, r)
	}
	return out, nil
}

// Children implements Lookup: stored replies and pending ones, a pending row replacing
// the stored row of the same post.
func (o *Overlay) Children(ctx context.Context, community string, parentIDs []string) ([]storage.PostRow, error) {
	stored, err := o.base.Children(ctx, community, parentIDs)
	if err != nil {
		return nil, err
	}
	parents := make(map[string]bool, len(parentIDs))
	for _, id := range parentIDs {
		parents[id] = true
	}
	ids := make(map[string]bool, len(stored))
	for i := range stored {
		ids[stored[i].ID] = true
	}
	// Pending replies to the parents, and pending rows of stored replies.
	mem := o.pending(community, func(r *storage.PostRow) bool { return parents[r.ReplyToID] || ids[r.ID] })
	if len(mem) == 0 {
		return stored, nil
	}
	out := stored[:0]
	for _, r := range stored {
		if _, ok := mem[r.ID]; !ok {
			out = append(out, r)
		}
	}
	for _, r := range mem {
		out = append(out, r)
	}
	return out, nil
}

// ReplyIDs implements ReplyIndex: stored replies and pending ones.
func (o *Overlay) ReplyIDs(ctx context.Context, community string, parentIDs []string) (map[string][]string, error) {
	out, err := ReplyIDs(ctx, o.base, community, parentIDs)
	if err != nil {
		return nil, err
	}
	parents := make(map[string]bool, len(parentIDs))
	for _, id := range parentIDs {
		parents[id] = true
	}
	for id, r := range o.pending(community, func(r *storage.PostRow) bool { return parents[r.ReplyToID] }) {
		out[r.ReplyToID] = append(out[r.ReplyToID], id)
	}
	return out, nil
}
