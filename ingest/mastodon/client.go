package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/backoff"
)

// maxBody bounds a REST response; a full tag timeline page is well under 1 MB.
const maxBody = 16 << 20

// maxRateLimitWait caps a wait for a rate-limit window (Mastodon's windows are 5 min).
const maxRateLimitWait = 15 * time.Minute

// client talks to one instance's REST API. It honours the instance's rate limits and
// retries transient failures. It is used by one goroutine at a time.
type client struct {
	base    *url.URL
	token   string // never logged, never put in a URL
	http    *http.Client
	log     *slog.Logger
	metrics *ingest.Metrics
	backoff backoff.Backoff

	notBefore time.Time // rate-limit window: no request before this
	remaining int       // X-RateLimit-Remaining of the last response, -1 when unknown

	// Test hooks.
	sleep func(context.Context, time.Duration) error
	now   func() time.Time
}

// statusError is a final (not retried) HTTP failure.
type statusError struct {
	Code int
	URL  string // without query secrets: the client never puts secrets in URLs
	Msg  string // the API's "error" message, if any
}

func (e *statusError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("GET %s: %d %s: %s", e.URL, e.Code, http.StatusText(e.Code), e.Msg)
	}
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// errNotRetried reports a transient failure of a request made with retry off.
var errNotRetried = errors.New("request failed, not retried")

func (c *client) source() string { return "mastodon" }

// get fetches u, which must be on the instance's host. With retry it waits out rate
// limits and retries 429, 5xx and network errors with backoff until ctx is done;
// without, it gives up at once (best-effort lookups). 4xx answers are final.
func (c *client) get(ctx context.Context, u string, retry bool) ([]byte, http.Header, error) {
	for {
		if wait := c.notBefore.Sub(c.now()); wait > 0 {
			if !retry {
				return nil, nil, fmt.Errorf("%w: rate limited", errNotRetried)
			}
			c.metrics.RateLimitWaits.WithLabelValues(c.source()).Inc()
			c.log.Info("mastodon rate limit reached, waiting for the window to reset", "instance", c.base.Host, "wait", wait.Round(time.Second))
			if err := c.sleep(ctx, wait); err != nil {
				return nil, nil, err
			}
			c.notBefore = time.Time{}
		}
		body, hdr, code, err := c.do(ctx, u)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		c.noteRateLimit(hdr, code)
		switch {
		case err == nil && code >= 200 && code < 300:
			c.backoff.Reset()
			return body, hdr, nil
		case err == nil && code == http.StatusTooManyRequests:
			if c.notBefore.Before(c.now()) {
				c.notBefore = c.now().Add(c.backoff.Next())
			}
			if !retry {
				return nil, nil, fmt.Errorf("%w: 429 rate limited", errNotRetried)
			}
			continue // waits for notBefore at the top
		case err == nil && code < 500:
			return nil, nil, &statusError{Code: code, URL: redact(u), Msg: apiError(body)}
		}
		c.metrics.Errors.WithLabelValues(c.source()).Inc()
		if err == nil {
			err = &statusError{Code: code, URL: redact(u), Msg: apiError(body)}
		}
		if !retry {
			return nil, nil, fmt.Errorf("%w: %w", errNotRetried, err)
		}
		d := c.backoff.Next()
		c.log.Warn("mastodon request failed, retrying", "instance", c.base.Host, "err", err, "retry_in", d.Round(time.Millisecond))
		if err := c.sleep(ctx, d); err != nil {
			return nil, nil, err
		}
	}
}

func (c *client) do(ctx context.Context, u string) ([]byte, http.Header, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("request %s: %w", redact(u), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if c.token != "" && sameHost(req.URL, c.base) {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("GET %s: %w", redact(u), scrub(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, resp.Header, 0, fmt.Errorf("read %s: %w", redact(u), scrub(err))
	}
	if len(body) > maxBody {
		return nil, resp.Header, 0, fmt.Errorf("read %s: response over %d bytes", redact(u), maxBody)
	}
	return body, resp.Header, resp.StatusCode, nil
}

// noteRateLimit reads Mastodon's X-RateLimit-Remaining and X-RateLimit-Reset (an
// ISO 8601 time) and, when the window is used up, holds requests until it resets.
func (c *client) noteRateLimit(h http.Header, code int) {
	if h == nil {
		return
	}
	c.remaining = -1
	if v := h.Get("X-RateLimit-Remaining"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			c.remaining = n
		}
	}
	if c.remaining != 0 && code != http.StatusTooManyRequests {
		return
	}
	until := time.Time{}
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err == nil {
			until = t
		}
	}
	if until.IsZero() {
		if v := h.Get("Retry-After"); v != "" {
			if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				until = c.now().Add(time.Duration(s) * time.Second)
			} else if t, err := http.ParseTime(v); err == nil {
				until = t
			}
		}
	}
	if until.IsZero() {
		return // 429 without a hint: backoff decides
	}
	if until.Sub(c.now()) > maxRateLimitWait {
		until = c.now().Add(maxRateLimitWait)
	}
	c.notBefore = until
}

// sameHost reports whether u is on the instance, so credentials may go with it.
func sameHost(u, base *url.URL) bool {
	return strings.EqualFold(u.Host, base.Host) && u.Scheme == base.Scheme
}

// redact drops the query of a URL for logs and errors. chatnight never puts secrets
// in URLs; this also keeps cursors out of error texts that are compared in tests.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// scrub keeps the URL inside a *url.Error free of its query.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redact(ue.URL), Err: ue.Err}
	}
	return err
}

// apiError extracts Mastodon's {"error": "..."} message, bounded.
func apiError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return truncate(e.Error, 200)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// linkRel returns the target of the Link header entry with rel (RFC 8288), as
// Mastodon pages with: <https://…?max_id=1>; rel="next", <https://…?min_id=9>; rel="prev".
func linkRel(h http.Header, rel string) string {
	for _, v := range h.Values("Link") {
		for v != "" {
			i := strings.IndexByte(v, '<')
			if i < 0 {
				break
			}
			j := strings.IndexByte(v[i:], '>')
			if j < 0 {
				break
			}
			target := v[i+1 : i+j]
			v = v[i+j+1:]
			params := v
			if k := strings.IndexByte(v, '<'); k >= 0 {
				params = v[:k]
			}
			for _, p := range strings.Split(params, ";") {
				name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				for _, r := range strings.Fields(strings.Trim(strings.TrimSpace(val), `",`)) {
					if strings.EqualFold(r, rel) {
						return target
					}
				}
			}
		}
	}
	return ""
}

const userAgent = "chatnight (+https://github.com/chatnight/chatnight)"
