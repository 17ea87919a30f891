package web_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowlorisIsCutOff: a client that sends its request headers a byte at a time is
// disconnected once the header timeout (5 s) passes, while a normal request still works.
func TestSlowlorisIsCutOff(t *testing.T) {
	ts := startServer(t, communities(t, "slowloris"), time.Now)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Duration, 1)
	go func() {
		// Trickle one header byte every 500 ms until the server hangs up.
		for i := 0; i < 60; i++ {
			time.Sleep(500 * time.Millisecond)
			if _, err := conn.Write([]byte("X")); err != nil {
				break
			}
		}
		closed <- time.Since(start)
	}()
	// The server answers 408 or just closes; either way reading ends.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	took := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the slow client was still connected after %v", took)
	}
	if took < 4*time.Second || took > 10*time.Second {
		t.Errorf("slow client cut off after %v, want about the 5 s header timeout", took)
	}
	t.Logf("slow client cut off after %v", took.Round(100*time.Millisecond))

	resp, err := http.Get(ts.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a normal request after the slow one: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestPublicSurfaceIsReadOnly: nothing the public can reach changes state; methods
// other than GET (and HEAD) are refused on every route.
func TestPublicSurfaceIsReadOnly(t *testing.T) {
	ts := startServer(t, communities(t, "readonly"), time.Now)
	for _, path := range []string{"/", "/api/communities", "/api/communities/readonly/sessions", "/metrics", "/readyz", "/ws?community=readonly", "/assets/app.js"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req, _ := http.NewRequest(method, ts.url+path, strings.NewReader(`{"reload":true}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: %s, want 405", method, path, resp.Status)
			}
		}
	}
	// A header of 1 MB is refused (MaxHeaderBytes), not buffered.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 1<<20)+"\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "431") {
		t.Errorf("1 MB header: %q %v, want 431", status, err)
	}
}
