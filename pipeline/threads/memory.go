package threads

import (
	"context"
	"sync"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// Memory is a Lookup over posts held in memory, for tests and for the simulator's
// dry runs. Write stores a batch's posts as ReplacingMergeTree(version) would after
// FINAL: the row with the highest version wins, and of equal versions the one written last.
type Memory struct {
	mu       sync.Mutex
	posts    map[memKey]storage.PostRow
	children map[memKey]map[string]bool // (community, reply_to_id) -> ids
}

type memKey struct{ community, id string }

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{posts: map[memKey]storage.PostRow{}, children: map[memKey]map[string]bool{}}
}

// Write stores the posts of b.
func (m *Memory) Write(_ context.Context, b *storage.Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range b.Posts {
		k := memKey{r.Community, r.ID}
		if old, ok := m.posts[k]; ok && old.Version > r.Version {
			continue
		}
		m.posts[k] = clonePost(r)
		if r.ReplyToID != "" {
			ck := memKey{r.Community, r.ReplyToID}
			if m.children[ck] == nil {
				m.children[ck] = map[string]bool{}
			}
			m.children[ck][r.ID] = true
		}
	}
	return nil
}

// Posts implements Lookup.
func (m *Memory) Posts(_ context.Context, community string, ids []string) ([]storage.PostRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.PostRow
	seen := map[string]bool{}
	for _, id := range ids {
		if r, ok := m.posts[memKey{community, id}]; ok && !seen[id] {
			seen[id] = true
			out = append(out, clonePost(r))
		}
	}
	return out, nil
}

// Children implements Lookup.
func (m *Memory) Children(_ context.Context, community string, parentIDs []string) ([]storage.PostRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.PostRow
	for _, p := range parentIDs {
		for id := range m.children[memKey{community, p}] {
			out = append(out, clonePost(m.posts[memKey{community, id}]))
		}
	}
	return out, nil
}

// All returns every stored post, in no particular order.
func (m *Memory) All() []storage.PostRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]storage.PostRow, 0, len(m.posts))
	for _, r := range m.posts {
		out = append(out, clonePost(r))
	}
	return out
}

func clonePost(r storage.PostRow) storage.PostRow {
	r.MentionIDs = append([]string(nil), r.MentionIDs...)
	r.MentionHandles = append([]string(nil), r.MentionHandles...)
	r.Hashtags = append([]string(nil), r.Hashtags...)
	r.URLs = append([]string(nil), r.URLs...)
	return r
}
