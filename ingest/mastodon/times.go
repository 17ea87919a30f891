package mastodon

import (
	"encoding/json"
	"hash/maphash"
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
// the copy with milliseconds wins over one in whole seconds. It keys by a hash of the
// uri and keeps Unix milliseconds, so a large archive's index stays small.
type FileTimes struct {
	seed  maphash.Seed
	times map[uint64]int64
}

// NewFileTimes returns an empty FileTimes.
func NewFileTimes() *FileTimes {
	return &FileTimes{seed: maphash.MakeSeed(), times: map[uint64]int64{}}
}

// Add records the status in raw and the status it reblogs.
func (ft *FileTimes) Add(raw []byte) {
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

func (ft *FileTimes) note(uri, created string) {
	t, err := parseTime(created)
	if uri == "" || err != nil {
		return
	}
	key, ms := maphash.String(ft.seed, uri), t.UnixMilli()
	if old, ok := ft.times[key]; !ok || (old%1000 == 0 && ms%1000 != 0 && old == ms/1000*1000) {
		ft.times[key] = ms
	}
}

// Canonical is a Parser.Time.
func (ft *FileTimes) Canonical(uri string, t time.Time) time.Time {
	best, ok := ft.times[maphash.String(ft.seed, uri)]
	if ok && best/1000 == t.UnixMilli()/1000 {
		return time.UnixMilli(best).UTC()
	}
	return t
}
