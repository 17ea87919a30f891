package web_test

import (
	"net/http"
	"testing"

	"github.com/chatnight/chatnight/web"
)

// TestHostCheckAgainstRebinding: a page whose host name was rebound to 127.0.0.1 sends its
// own name as Host. On loopback the page, the API and the websocket refuse it; localhost and
// 127.0.0.1 pass. Beyond loopback the check applies once AllowedHosts is set.
func TestHostCheckAgainstRebinding(t *testing.T) {
	const id = "hostcheck"
	cases := []struct {
		name    string
		addr    string
		allowed []string
		host    string
		ok      bool
	}{
		{"loopback, 127.0.0.1", "127.0.0.1:0", nil, "127.0.0.1", true},
		{"loopback, localhost", "127.0.0.1:0", nil, "localhost", true},
		{"loopback, [::1]", "127.0.0.1:0", nil, "[::1]", true},
		{"loopback, rebinding name", "127.0.0.1:0", nil, "attacker.example", false},
		{"loopback, allowed name", "127.0.0.1:0", []string{"chat.example.org"}, "chat.example.org", true},
		{"all interfaces, service name", ":0", nil, "serve", true},
		{"all interfaces with allowed hosts, other name", ":0", []string{"chat.example.org"}, "attacker.example", false},
		{"all interfaces with allowed hosts, allowed name", ":0", []string{"chat.example.org"}, "chat.example.org", true},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServerWith(t, web.Config{Addr: tt.addr, AllowedHosts: tt.allowed}, communities(t, id))
			base := ts.url
			for _, path := range []string{"/", "/api/communities", "/healthz", "/ws?community=" + id} {
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Host = tt.host
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				refused := resp.StatusCode == http.StatusMisdirectedRequest
				if refused == tt.ok {
					t.Errorf("%s with Host %s: %s, want ok=%v", path, tt.host, resp.Status, tt.ok)
				}
				if resp.Header.Get("Cross-Origin-Resource-Policy") != "same-origin" {
					t.Errorf("%s: no Cross-Origin-Resource-Policy", path)
				}
			}
		})
	}
}
