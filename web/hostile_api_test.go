package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAPIIdsMatchedAsGiven: session ids reach ClickHouse as values matched byte for byte: an
// id ending in a backslash is unknown (404, not 500), and `\x5A` does not resolve to "Z".
// Methods other than GET under /api/ answer 405.
func TestAPIIdsMatchedAsGiven(t *testing.T) {
	const id = "idtest"
	now := time.Now().UTC()
	c := newChat(id, id+"-Z", now.Add(-2*time.Hour)).sessionRow("scheduled", time.Hour)
	c.post(id+":1", "host", 0, "Q1 hello")
	c.write(t)
	ts := startServer(t, communities(t, id), nil)

	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/api/sessions/" + id + "-Z"); code != http.StatusOK {
		t.Fatalf("the session itself: %d", code)
	}
	for _, sid := range []string{id + `-Z\`, `\`, id + `-\x5A`, id + `-\132`, id + "-Z\t", id + `-Z\0`} {
		for _, sub := range []string{"", "/posts", "/participants", "/stats", "/transcript?format=csv"} {
			if code := get("/api/sessions/" + url.PathEscape(sid) + sub); code != http.StatusNotFound {
				t.Errorf("session %q%s: %d, want 404", sid, sub, code)
			}
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, path := range []string{"/api/communities", "/api/sessions/" + id + "-Z", "/api/nosuch"} {
			req, _ := http.NewRequest(m, ts.url+path, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") {
				t.Errorf("%s %s: %d (Allow %q), want 405", m, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
}
