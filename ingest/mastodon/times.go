package mastodon

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/chatnight/chatnight/ingest/lru"
)

// A status's home instance gives its created_at in milliseconds; other instances
// render the copy they received by ActivityPub in whole seconds. Posts are stored
// keyed by time, so every copy of one status must carry the same time: Times gives
// the time a status uri was first seen with, and an archive prefers the copy that
// carries milliseconds.

// Times remembers the time each status uri was first parsed with, across the sources
// of a process. It is safe for concurrent use.
type Times struct {
	mu    sync.Mutex
	cache *lru.Cache[string, time.Time]
}

// NewTimes remembers up to max uris.
func NewTimes(max int) *Times { return &Times{cache: lru.New[string, time.Time](max)} }

// Canonical is a Parser.Time: the time uri was first seen with, else t.
func (ts *Times) Canonical(uri string, t time.Time) time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if first, ok := ts.cache.Get(uri); ok && first.Truncate(time.Second).Equal(t.Truncate(time.Second)) {
		return first
	}
	ts.cache.Put(uri, t)
	return t
}

// FileTimes holds, for an archive, the most precise time of each status uri in it:
// the copy with milliseconds wins over one in whole seconds.
type FileTimes map[string]time.Time

// Add records the status in raw and the status it reblogs.
func (ft FileTimes) Add(raw []byte) {
	var st struct {
		URI       string `json:"uri"`
		CreatedAt string `json:"created_at"`
		Reblog    *struct {
			URI       string `json:"uri"`
			CreatedAt string `json:"created_at"`
		} `json:"reblog"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return
	}
	ft.note(st.URI, st.CreatedAt)
	if st.Reblog != nil {
		ft.note(st.Reblog.URI, st.Reblog.CreatedAt)
	}
}

func (ft FileTimes) note(uri, created string) {
	t, err := parseTime(created)
	if uri == "" || err != nil {
		return
	}
	if old, ok := ft[uri]; !ok || (old.Nanosecond() == 0 && t.Nanosecond() != 0 && old.Equal(t.Truncate(time.Second))) {
		ft[uri] = t
	}
}

// Canonical is a Parser.Time.
func (ft FileTimes) Canonical(uri string, t time.Time) time.Time {
	if best, ok := ft[uri]; ok && best.Truncate(time.Second).Equal(t.Truncate(time.Second)) {
		return best
	}
	return t
}
