package bluesky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chatnight/chatnight/ingest/lru"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Default endpoints.
const (
	DefaultJetstreamURL = "wss://jetstream2.us-east.bsky.network"
	// DefaultAppViewURL answers app.bsky.actor.getProfile without authentication.
	DefaultAppViewURL = "https://public.api.bsky.app"
	// DefaultPDSURL is where an app password logs in (createSession) and searchPosts
	// is asked with the session.
	DefaultPDSURL = "https://bsky.social"
)

const (
	profileCacheSize = 50000
	lookupTimeout    = 2 * time.Second
	missTTL          = 10 * time.Minute // do not ask again for a DID the API could not resolve
	outagePause      = 30 * time.Second // after a failed request, use the cache only for a while
)

// Profiles resolves DIDs to handles, display names, follower counts and bios with a
// bounded cache, filled by identity events (Note) and by
// GET {api}/xrpc/app.bsky.actor.getProfile?actor=<did> (Resolve). It is best effort:
// a lookup waits at most about two seconds, a failed request pauses lookups for a
// while, and a post whose author is unknown still flows with the DID as handle.
// It is safe for concurrent use.
type Profiles struct {
	api     string
	http    *http.Client
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time

	// Memory, when set, keeps what the cache learns across restarts.
	Memory *Memory

	mu     sync.Mutex
	cache  *lru.Cache[string, Profile]
	misses *lru.Cache[string, time.Time]
	pause  time.Time
}

// NewProfiles resolves through the AppView at apiURL ("" is DefaultAppViewURL).
func NewProfiles(apiURL string, client *http.Client, log *slog.Logger) *Profiles {
	if apiURL == "" {
		apiURL = DefaultAppViewURL
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Profiles{
		api: strings.TrimRight(apiURL, "/"), http: client, log: log,
		timeout: lookupTimeout, now: time.Now,
		cache:  lru.New[string, Profile](profileCacheSize),
		misses: lru.New[string, time.Time](profileCacheSize / 10),
	}
}

// Get returns the cached profile of did.
// NoUnauthenticatedLabel is the self-label of accounts that asked not to be shown to
// logged-out viewers.
const NoUnauthenticatedLabel = "!no-unauthenticated"

func (p *Profiles) Get(did string) (Profile, bool) {
	if p == nil {
		return Profile{}, false
	}
	p.mu.Lock()
	pr, ok := p.cache.Get(did)
	p.mu.Unlock()
	if ok && pr.Handle != "" {
		return pr, true
	}
	if pr, ok := p.Memory.Profile(did); ok {
		p.mu.Lock()
		p.cache.Put(did, pr)
		p.mu.Unlock()
		return pr, true
	}
	return pr, ok
}

// Note records did's current handle, as an identity event announces it.
func (p *Profiles) Note(did, handle string) {
	if p == nil || handle == "" || !validDID(did) {
		return
	}
	handle = strings.ToLower(handle)
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, _ := p.cache.Get(did)
	pr.Handle = handle
	p.cache.Put(did, pr)
	p.misses.Delete(did)
	p.Memory.SaveProfile(did, pr)
}

// put caches a profile as fetched.
func (p *Profiles) put(did string, pr Profile) {
	p.mu.Lock()
	p.cache.Put(did, pr)
	p.mu.Unlock()
	p.Memory.SaveProfile(did, pr)
}

// noteAuthor caches the author of a search result.
func (p *Profiles) noteAuthor(ps *post.Post) {
	if p == nil || ps == nil {
		return
	}
	did := strings.TrimPrefix(ps.Author.ID, "bluesky:")
	if ps.Author.Handle == "" || ps.Author.Handle == did {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old, _ := p.cache.Get(did)
	old.Handle, old.Name = ps.Author.Handle, ps.Author.Name
	p.cache.Put(did, old)
	p.Memory.SaveProfile(did, old)
}

// Resolve returns did's profile from the cache or, failing that, from getProfile.
func (p *Profiles) Resolve(ctx context.Context, did string) (Profile, bool) {
	if p == nil {
		return Profile{}, false
	}
	if pr, ok := p.Get(did); ok && pr.Handle != "" {
		return pr, true
	}
	p.mu.Lock()
	if at, ok := p.misses.Get(did); ok && p.now().Sub(at) < missTTL {
		p.mu.Unlock()
		return Profile{}, false
	}
	if p.now().Before(p.pause) {
		p.mu.Unlock()
		return Profile{}, false
	}
	p.mu.Unlock()

	pr, err := p.fetch(ctx, did)
	if err != nil {
		p.mu.Lock()
		var nf notFound
		if errors.As(err, &nf) {
			p.misses.Put(did, p.now())
		} else if ctx.Err() == nil {
			p.pause = p.now().Add(outagePause)
		}
		p.mu.Unlock()
		p.log.Debug("bluesky profile lookup failed", "did", did, "err", err)
		return Profile{}, false
	}
	p.put(did, pr)
	return pr, true
}

type notFound struct{ error }

func (p *Profiles) fetch(ctx context.Context, did string) (Profile, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	u := p.api + "/xrpc/app.bsky.actor.getProfile?" + url.Values{"actor": {did}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Profile{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.http.Do(req)
	if err != nil {
		return Profile{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Profile{}, err
	}
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound {
		return Profile{}, notFound{fmt.Errorf("getProfile %s: %d %s", did, resp.StatusCode, xrpcError(body))}
	}
	if resp.StatusCode != http.StatusOK {
		return Profile{}, fmt.Errorf("getProfile %s: %d %s", did, resp.StatusCode, xrpcError(body))
	}
	var v struct {
		DID            string `json:"did"`
		Handle         string `json:"handle"`
		DisplayName    string `json:"displayName"`
		FollowersCount int64  `json:"followersCount"`
		Description    string `json:"description"`
		Labels         []struct {
			Src string `json:"src"`
			Val string `json:"val"`
		} `json:"labels"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return Profile{}, fmt.Errorf("getProfile %s: %w", did, err)
	}
	if v.DID != did || v.Handle == "" || v.Handle == "handle.invalid" {
		return Profile{}, notFound{fmt.Errorf("getProfile %s: no valid handle", did)}
	}
	pr := Profile{Handle: strings.ToLower(v.Handle), Name: v.DisplayName, Followers: uint64(max(v.FollowersCount, 0)),
		Description: v.Description, LabelsKnown: true}
	for _, l := range v.Labels {
		// Only the account's own label counts: a self-label's source is its DID.
		if l.Val == NoUnauthenticatedLabel && l.Src == did {
			pr.NoUnauthenticated = true
		}
	}
	return pr, nil
}

// xrpcError renders an XRPC error body {"error": "...", "message": "..."}, bounded.
func xrpcError(body []byte) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Error == "" && e.Message == "") {
		return ""
	}
	s := strings.TrimSpace(e.Error + ": " + e.Message)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

const userAgent = "chatnight (+https://github.com/chatnight/chatnight)"
