package bluesky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/post"
)

// memoryTimeout bounds one read or write of the Memory: it is a cache, and a slow
// NATS must not hold up the firehose.
const memoryTimeout = 2 * time.Second

// Memory keeps what the Bluesky sources learn across restarts, in the NATS KV bucket
// bus.BlueskyBucket: the handle of each DID (from identity events, getProfile, search
// results and imported Jetstream captures) and the uris of the posts kept (so a
// repost of a post kept before a restart is kept too). Entries expire with the
// bucket's age limit. It is safe for concurrent use; nil remembers nothing.
type Memory struct{ kv jetstream.KeyValue }

// OpenMemory opens the bucket (bus.EnsureStreams creates it).
func OpenMemory(ctx context.Context, js jetstream.JetStream) (*Memory, error) {
	kv, err := js.KeyValue(ctx, bus.BlueskyBucket)
	if err != nil {
		return nil, fmt.Errorf("open kv bucket %s: %w", bus.BlueskyBucket, err)
	}
	return &Memory{kv: kv}, nil
}

// handleKey is the key of a DID: KV keys take [A-Za-z0-9_=.-], DIDs also ':' and '%'.
func handleKey(did string) string {
	return "handle." + strings.NewReplacer(":", "_", "%", "=").Replace(did)
}

// keptKey is the key of a post uri: a stable hash, since uris hold '/' and ':'.
func keptKey(uri string) string {
	h := fnv.New64a()
	h.Write([]byte(uri))
	return fmt.Sprintf("kept.%016x", h.Sum64())
}

// Profile returns the remembered profile of did.
func (m *Memory) Profile(did string) (Profile, bool) {
	var pr Profile
	return pr, m.get(handleKey(did), &pr) && pr.Handle != ""
}

// SaveProfile remembers did's profile.
func (m *Memory) SaveProfile(did string, pr Profile) {
	if pr.Handle != "" && pr.Handle != did {
		m.put(handleKey(did), pr)
	}
}

// Kept returns the hashtags of a kept post, and whether it was kept.
func (m *Memory) Kept(uri string) ([]string, bool) {
	var rec struct {
		URI  string
		Tags []string
	}
	if !m.get(keptKey(uri), &rec) || rec.URI != uri {
		return nil, false
	}
	return rec.Tags, true
}

// SaveKept remembers that the post at uri was kept, with its hashtags.
func (m *Memory) SaveKept(uri string, tags []string) {
	m.put(keptKey(uri), struct {
		URI  string
		Tags []string
	}{uri, tags})
}

func (m *Memory) get(key string, v any) bool {
	if m == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), memoryTimeout)
	defer cancel()
	e, err := m.kv.Get(ctx, key)
	if err != nil {
		return false
	}
	return json.Unmarshal(e.Value(), v) == nil
}

func (m *Memory) put(key string, v any) {
	if m == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), memoryTimeout)
	defer cancel()
	if _, err := m.kv.Put(ctx, key, b); err != nil && !errors.Is(err, context.Canceled) {
		return // best effort: the in-process caches still hold it
	}
}

// Enrich is the import's hook for Jetstream captures: an identity event teaches p the
// handle of its DID (remembered in p.Memory for the live sources), and a post whose
// author is a bare DID takes the handle p knows, so imports and live sources fill and
// use one cache.
func (p *Profiles) Enrich(raw []byte, posts []*post.Post) {
	if ev, err := DecodeEvent(raw); err == nil && ev.Kind == "identity" && ev.Identity != nil {
		p.Note(firstNonEmpty(ev.Identity.DID, ev.DID), ev.Identity.Handle)
	}
	for _, ps := range posts {
		did := strings.TrimPrefix(ps.Author.ID, "bluesky:")
		if ps.Author.Handle != "" && ps.Author.Handle != did {
			continue
		}
		if pr, ok := p.Get(did); ok {
			ps.Author.Handle = pr.Handle
			if ps.Author.Name == "" {
				ps.Author.Name = pr.Name
			}
		}
	}
}
