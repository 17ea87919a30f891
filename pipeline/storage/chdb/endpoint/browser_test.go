package endpoint

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// syncBuffer is a log sink the server and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCrossOriginPageReachesNothing opens, in headless Chromium, a page of another site
// (evil.test, resolved to 127.0.0.1) that knows the endpoint's address and even its password.
// It sends no-cors POSTs that would write a file, insert rows and drop a table, tries to read
// an answer, and, as a DNS-rebinding page under the endpoint's own port, reads same-origin.
// Nothing is written, dropped or read, and each request reached the endpoint and was refused.
func TestCrossOriginPageReachesNothing(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("this test needs Chromium at %s: %v; run `make setup` (it installs chromium with apt-get)", chromiumPath, err)
	}
	logs := &syncBuffer{}
	opts := testOptions()
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := startServer(env.conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	mustExec(t, rwClient(t), "DROP TABLE IF EXISTS browser_victim", "CREATE TABLE browser_victim (s String) ENGINE = MergeTree ORDER BY s",
		"INSERT INTO browser_victim VALUES ('chatnight-browser-marker')")
	written := filepath.Join(t.TempDir(), "written-by-page")

	ep := "http://" + srv.Addr() + "/"
	withAuth := func(sql string) string {
		return ep + "?" + url.Values{"query": {sql}, "user": {testUser}, "password": {testPassword}}.Encode()
	}
	attacks := []string{
		withAuth("INSERT INTO FUNCTION file('" + written + "', 'LineAsString') VALUES ('pwned')"),
		withAuth("INSERT INTO browser_victim VALUES ('pwned')"),
		withAuth("DROP TABLE browser_victim"),
		ep + "?" + url.Values{"query": {"DROP TABLE browser_victim"}}.Encode(), // no credentials
	}
	readURL := withAuth("SELECT * FROM browser_victim")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		var js strings.Builder
		js.WriteString("window.results = [];\nasync function attack() {\n")
		for _, a := range attacks {
			fmt.Fprintf(&js, "  try { await fetch(%q, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: ''}); window.results.push('sent'); } catch (e) { window.results.push('error ' + e); }\n", a)
		}
		fmt.Fprintf(&js, "  try { const r = await fetch(%q, {method: 'POST'}); window.results.push('read ' + await r.text()); } catch (e) { window.results.push('read failed ' + e); }\n", readURL)
		js.WriteString("  window.done = true;\n}\nattack();\n")
		fmt.Fprintf(w, "<!doctype html><title>evil</title><script>%s</script>", js.String())
	}))
	defer evil.Close()

	// The rebinding page: served under evil.test at the endpoint's own port, then the name
	// points at the endpoint, so its fetch of "/" is same-origin for the browser.
	rebindPage := `<!doctype html><script>
window.results = [];
fetch('/?` + url.Values{"query": {"SELECT * FROM browser_victim"}, "user": {testUser}, "password": {testPassword}}.Encode() + `', {method: 'POST'})
  .then(r => r.text()).then(t => { window.results.push('read ' + t); window.done = true; })
  .catch(e => { window.results.push('error ' + e); window.done = true; });
</script>`

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP evil.test 127.0.0.1"))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	// runPage loads a page with steps, waits until its script is done and returns what
	// it reports in window.results.
	runPage := func(what string, steps ...chromedp.Action[chromedp.Void]) []string {
		t.Helper()
		steps = append(steps, chromedp.Poll[chromedp.Void]("window.done === true", chromedp.WithPollingTimeout(60*time.Second)))
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("run the %s page: %v", what, err)
		}
		results, err := chromedp.Run(ctx, chromedp.Evaluate[[]string]("window.results"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s page: %q", what, results)
		return results
	}

	evilURL := strings.Replace(evil.URL, "127.0.0.1", "evil.test", 1) + "/"
	results := runPage("cross-site", chromedp.Navigate(evilURL))
	if len(results) != len(attacks)+1 {
		t.Fatalf("the page finished %d of %d requests", len(results), len(attacks)+1)
	}
	for _, r := range results {
		if strings.Contains(r, "chatnight-browser-marker") {
			t.Errorf("the cross-site page read an answer: %q", r)
		}
	}

	// Rebinding: the browser asks the endpoint's port under the attacker's name. The page's
	// HTML cannot come from the endpoint, so it is loaded as a data-less document there first:
	// navigating to the endpoint under evil.test gets the endpoint's refusal, then the script
	// is injected into that origin.
	rebind := runPage("rebinding",
		chromedp.Navigate("http://evil.test:"+port(srv.Addr())+"/ping"),
		chromedp.Evaluate[chromedp.Void](`document.open(); document.write(`+jsString(rebindPage)+`); document.close();`))
	if len(rebind) != 1 || strings.Contains(rebind[0], "chatnight-browser-marker") {
		t.Errorf("the rebinding page read: %q", rebind)
	}

	if _, err := os.Stat(written); err == nil {
		t.Errorf("the page wrote %s", written)
	}
	code, _, body := httpDo(t, http.MethodPost, "", strings.NewReader("SELECT count(), countIf(s = 'pwned') FROM browser_victim"), processAuth())
	if code != http.StatusOK || strings.TrimSpace(body) != "1\t0" {
		t.Errorf("browser_victim changed or is gone: %d %q", code, body)
	}
	// Every request reached the endpoint and was refused there, not stopped by the browser.
	refusals := strings.Count(logs.String(), "refused a browser request")
	if want := len(attacks) + 2; refusals < want {
		t.Errorf("the endpoint refused %d browser requests, want at least %d:\n%s", refusals, want, logs.String())
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "$", `\$`)
	return "`" + r.Replace(s) + "`"
}
