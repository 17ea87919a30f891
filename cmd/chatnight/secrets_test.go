package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer fails every request with a 503 whose body echoes the request's headers,
// query and body, as a hostile or careless upstream might, and remembers which of the
// secrets it was sent.
type echoServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]bool
}

func newEchoServer(t *testing.T, secrets []string) *echoServer {
	e := &echoServer{seen: map[string]bool{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var echo strings.Builder
		fmt.Fprintf(&echo, "upstream trouble for %s %s\n", r.Method, r.URL.String())
		for k, vs := range r.Header {
			fmt.Fprintf(&echo, "%s: %s\n", k, strings.Join(vs, ","))
		}
		echo.Write(body)
		e.mu.Lock()
		for _, s := range secrets {
			if strings.Contains(echo.String(), s) {
				e.seen[s] = true
			}
		}
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "0")
		http.Error(w, echo.String(), http.StatusServiceUnavailable)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echoServer) sawAll(secrets []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range secrets {
		if !e.seen[s] {
			return fmt.Errorf("the sources have not sent %.6s… yet", s)
		}
	}
	return nil
}

// TestSecretsStayOutOfOutput runs chatnight with every source's credentials in the
// environment, pointed at an upstream that fails every request and echoes what it was
// sent, and the embedded ClickHouse password set: none of the secrets may appear in
// the logs, in errors, or in any answer of the HTTP endpoints.
func TestSecretsStayOutOfOutput(t *testing.T) {
	const (
		xToken   = "xbearer-SECRET-5b2c1d0e9f"
		mastoTok = "masto-SECRET-77aa0c3e1b"
		bskyPass = "bsky-SECRET-app-pw-4e5f"
		chPass   = "clickhouse-SECRET-pw-9d8c"
	)
	upstreamSecrets := []string{xToken, mastoTok, bskyPass}
	up := newEchoServer(t, upstreamSecrets)
	ws := "ws" + strings.TrimPrefix(up.URL, "http")
	config := filepath.Join(t.TempDir(), "communities.yaml")
	err := os.WriteFile(config, fmt.Appendf(nil, `
communities:
  - id: hcldr
    name: "#HCLDR"
    hashtags: [hcldr]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
    sources: [x, mastodon, bluesky]
sources:
  x: {base_url: %[1]q, bearer_token_env: TEST_X_BEARER_TOKEN, poll_interval: 200ms}
  mastodon:
    poll_interval: 200ms
    instances:
      - {base_url: %[1]q, access_token_env: TEST_MASTODON_TOKEN}
  bluesky: {jetstream_url: %[2]q, appview_url: %[1]q, pds_url: %[1]q, identifier: chat.example.org, app_password_env: TEST_BSKY_APP_PASSWORD}
`, up.URL, ws), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_X_BEARER_TOKEN", xToken)
	t.Setenv("TEST_MASTODON_TOKEN", mastoTok)
	t.Setenv("TEST_BSKY_APP_PASSWORD", bskyPass)
	t.Setenv(envCHPassword, chPass)

	n := newNode(t, t.TempDir())
	n.start("run", "--config", config, "--log-level", "debug")
	waitFor(t, 60*time.Second, "every source to use its credentials", func() error { return up.sawAll(upstreamSecrets) })
	// Let the failures and retries be logged a few times over.
	waitFor(t, 30*time.Second, "the sources to log their failures", func() error {
		if c := strings.Count(n.out.String(), "503"); c < 6 {
			return fmt.Errorf("%d failures logged", c)
		}
		return nil
	})

	var answers strings.Builder
	for _, path := range []string{"/metrics", "/readyz", "/healthz", "/api/communities", "/api/nosuch", "/ws?community=nosuch"} {
		resp, err := http.Get("http://" + n.httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&answers, "%s %d\n%v\n%s\n", path, resp.StatusCode, resp.Header, b)
	}
	code, body := chHTTP(t, n.chAddr, "default", "wrong", "SELECT 1")
	fmt.Fprintf(&answers, "clickhouse %d %s\n", code, body)
	n.stop()

	all := n.out.String() + answers.String()
	for _, s := range append(upstreamSecrets, chPass, base64.StdEncoding.EncodeToString([]byte("default:"+chPass))) {
		if i := strings.Index(all, s); i >= 0 {
			t.Errorf("secret %.6s… leaked: …%s…", s, all[max(0, i-200):min(len(all), i+len(s)+50)])
		}
	}
	if !strings.Contains(all, "chatnight_ingest") {
		t.Errorf("/metrics lacks the ingest metrics; was it read?\n%s", abbreviate(answers.String()))
	}
}
