package xapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/steward"
)

// DefaultBaseURL is the X API host.
const DefaultBaseURL = "https://api.x.com"

// metricsSource labels this package's ingest metrics and dead letters.
const metricsSource = "x"

// Request parameters shared by recent search and the filtered stream.
const (
	expansions  = "author_id,referenced_tweets.id,referenced_tweets.id.author_id,entities.mentions.username"
	tweetFields = "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,entities,public_metrics,lang,author_id,note_tweet"
	userFields  = "username,name,public_metrics,description"
)

func fieldParams(v url.Values) url.Values {
	v.Set("expansions", expansions)
	v.Set("tweet.fields", tweetFields)
	v.Set("user.fields", userFields)
	return v
}

// ClientConfig is what both X sources need to talk to the API.
type ClientConfig struct {
	// BaseURL is the API root; "" means DefaultBaseURL.
	BaseURL string
	// BearerTokenEnv names the environment variable holding the app bearer token.
	BearerTokenEnv string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// HTTPClient makes the requests; nil gives a client without overall timeout
	// (the stream is a long-lived response) that waits at most 30s for response headers.
	HTTPClient *http.Client
	// Log receives progress and problems; the token never goes into it.
	Log *slog.Logger
	// Metrics counts errors and rate-limit waits; nil keeps them unregistered.
	Metrics *ingest.Metrics
	// MinBackoff and MaxBackoff bound the waits after failures; zero takes
	// backoff.Backoff's defaults.
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds a non-streaming request; zero means 30s.
	RequestTimeout time.Duration
}

// secret holds the bearer token so that printing or logging it by mistake shows nothing.
type secret struct{ v string }

func (secret) String() string       { return "[redacted]" }
func (secret) GoString() string     { return "[redacted]" }
func (secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }
func (s secret) redact(t string) string {
	if s.v == "" {
		return t
	}
	return strings.ReplaceAll(t, s.v, "[redacted]")
}

// client performs X API requests: it adds the token, waits out rate limits and
// retries 429, 5xx and network errors with backoff until ctx ends.
type client struct {
	base           string
	token          secret
	hc             *http.Client
	log            *slog.Logger
	metrics        *ingest.Metrics
	min, max       time.Duration
	requestTimeout time.Duration

	mu     sync.Mutex
	limits map[string]rateLimit // by endpoint path

	// em, set when a source runs, receives completeness events (rate-limit waits).
	em *ingest.Emitter
}

// record puts a completeness event on record when a source is running.
func (c *client) record(ctx context.Context, ev steward.Event) {
	if c.em != nil {
		ev.Source = metricsSource
		c.em.Completeness(ctx, ev)
	}
}

// idTime is when a tweet id (a snowflake) was made; zero for an id that is not one.
func idTime(id string) time.Time {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n < 1<<22 {
		return time.Time{}
	}
	return time.UnixMilli(int64(n>>22) + 1288834974657).UTC()
}

type rateLimit struct {
	remaining int
	reset     time.Time
}

func newClient(cfg ClientConfig) (*client, error) {
	if cfg.BearerTokenEnv == "" {
		return nil, errors.New("X API: no bearer token configured: set sources.x.bearer_token_env to the name of the environment variable that holds it")
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	tok := strings.TrimSpace(getenv(cfg.BearerTokenEnv))
	if tok == "" {
		return nil, fmt.Errorf("X API: environment variable %s is empty or unset: export the app bearer token in it (sources.x.bearer_token_env)", cfg.BearerTokenEnv)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if _, err := url.Parse(base); err != nil {
		return nil, fmt.Errorf("X API base_url %q: %w", base, err)
	}
	c := &client{
		base:           base,
		token:          secret{tok},
		hc:             cfg.HTTPClient,
		log:            cfg.Log,
		metrics:        cfg.Metrics,
		min:            cfg.MinBackoff,
		max:            cfg.MaxBackoff,
		requestTimeout: cfg.RequestTimeout,
		limits:         map[string]rateLimit{},
	}
	if c.hc == nil {
		// No overall timeout (the stream is one long response), but a server that
		// accepts the connection and never answers is given up on.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = 30 * time.Second
		c.hc = &http.Client{Transport: tr}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.metrics == nil {
		c.metrics, _ = ingest.NewMetrics(nil) // unregistered: cannot fail
	}
	if c.requestTimeout == 0 {
		c.requestTimeout = 30 * time.Second
	}
	return c, nil
}

// fatal prepares an error for returning from Run: any copy of the token in its text is
// replaced, and errors.As still finds what it wraps.
func (c *client) fatal(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: c.token.redact(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// StatusError is an answer from the API that retrying will not fix (400, 401, 403, ...).
type StatusError struct {
	Method, Path string
	Status       int
	Body         string // start of the response body
}

func (e *StatusError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized:
		hint = " (the bearer token was refused: check the environment variable named by sources.x.bearer_token_env)"
	case http.StatusForbidden:
		hint = " (the app's access level does not allow this endpoint)"
	}
	return fmt.Sprintf("X API %s %s: %d %s%s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), hint, e.Body)
}

// do sends a request and returns the response of the first 2xx answer; the caller
// closes its body. Rate limits are waited out and transient failures retried until
// ctx is done. stream marks a long-lived response: no request timeout then.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body []byte, stream bool) (*http.Response, error) {
	bo := backoff.Backoff{Min: c.min, Max: c.max}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	for {
		if err := c.waitRateLimit(ctx, path); err != nil {
			return nil, err
		}
		resp, cancel, err := c.send(ctx, method, u, body, stream)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.metrics.Errors.WithLabelValues(metricsSource).Inc()
			c.log.Warn("X API request failed, retrying", "method", method, "path", path, "err", c.token.redact(err.Error()))
			if err := bo.Wait(ctx); err != nil {
				return nil, err
			}
			continue
		}
		c.noteRateLimit(path, resp.Header)
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if cancel != nil {
				resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			}
			return resp, nil
		case resp.StatusCode == http.StatusTooManyRequests:
			msg := c.readBody(resp, cancel)
			c.metrics.RateLimitWaits.WithLabelValues(metricsSource).Inc()
			wait, ok := resetWait(resp.Header)
			if !ok || wait <= 0 {
				wait = bo.Next()
			}
			c.log.Warn("X API rate limit hit, waiting", "path", path, "wait", wait.Round(time.Millisecond), "body", msg)
			c.record(ctx, steward.Event{From: time.Now(), To: time.Now().Add(wait), Kind: steward.KindRateLimit, Detail: "429 on " + path})
			if err := backoff.Sleep(ctx, wait); err != nil {
				return nil, err
			}
		case resp.StatusCode >= 500:
			msg := c.readBody(resp, cancel)
			c.metrics.Errors.WithLabelValues(metricsSource).Inc()
			c.log.Warn("X API server error, retrying", "method", method, "path", path, "status", resp.StatusCode, "body", msg)
			if err := bo.Wait(ctx); err != nil {
				return nil, err
			}
		default:
			msg := c.readBody(resp, cancel)
			return nil, &StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: msg}
		}
	}
}

func (c *client) send(ctx context.Context, method, u string, body []byte, stream bool) (*http.Response, context.CancelFunc, error) {
	var cancel context.CancelFunc
	rctx := ctx
	if !stream {
		rctx, cancel = context.WithTimeout(ctx, c.requestTimeout)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, u, rd)
	if err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token.v)
	req.Header.Set("User-Agent", "chatnight")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, nil, err
	}
	return resp, cancel, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// readBody reads the start of an error response for the message and closes it.
func (c *client) readBody(resp *http.Response, cancel context.CancelFunc) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	resp.Body.Close()
	if cancel != nil {
		cancel()
	}
	return c.token.redact(strings.TrimSpace(string(b)))
}

func (c *client) noteRateLimit(path string, h http.Header) {
	rem, err1 := strconv.Atoi(h.Get("x-rate-limit-remaining"))
	reset, err2 := strconv.ParseInt(h.Get("x-rate-limit-reset"), 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	c.mu.Lock()
	c.limits[path] = rateLimit{remaining: rem, reset: time.Unix(reset, 0)}
	c.mu.Unlock()
}

// waitRateLimit sleeps until the window resets when the last answer said no requests
// remain in it.
func (c *client) waitRateLimit(ctx context.Context, path string) error {
	c.mu.Lock()
	rl, ok := c.limits[path]
	c.mu.Unlock()
	if !ok || rl.remaining > 0 {
		return nil
	}
	wait := time.Until(rl.reset)
	if wait <= 0 {
		return nil
	}
	wait = min(wait, maxResetWait)
	c.metrics.RateLimitWaits.WithLabelValues(metricsSource).Inc()
	c.log.Info("X API rate limit window used up, waiting for reset", "path", path, "wait", wait.Round(time.Millisecond))
	c.record(ctx, steward.Event{From: time.Now(), To: time.Now().Add(wait), Kind: steward.KindRateLimit, Detail: "window used up on " + path})
	if err := backoff.Sleep(ctx, wait); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.limits, path)
	c.mu.Unlock()
	return nil
}

// maxResetWait caps a wait for a reset time, in case the header is garbled (windows are 15 min).
const maxResetWait = 20 * time.Minute

// resetWait reads how long a 429 asks to wait: x-rate-limit-reset (epoch seconds), else Retry-After.
func resetWait(h http.Header) (time.Duration, bool) {
	if s := h.Get("x-rate-limit-reset"); s != "" {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			return min(max(time.Until(time.Unix(sec, 0)), 0), maxResetWait), true
		}
	}
	if s := h.Get("Retry-After"); s != "" {
		if sec, err := strconv.Atoi(s); err == nil && sec >= 0 {
			return min(time.Duration(sec)*time.Second, maxResetWait), true
		}
	}
	return 0, false
}
