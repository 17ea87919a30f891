package endpoint

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Browsers reach loopback ports: a page on any site can send a no-cors POST with a text/plain
// body (a "simple request", sent without a preflight), and a DNS-rebinding page can even read
// the answers, under its own host name. The endpoint serves no pages of its own, so it refuses
// every request a browser sends on behalf of another site, and every Host it does not know.

// hostChecker knows the host names the endpoint answers to.
type hostChecker struct {
	names map[string]bool // lower-case, without port or brackets
	anyIP bool            // the listen host is unspecified: any IP literal is the machine's
}

func newHostChecker(listenAddr string, extra []string) hostChecker {
	hc := hostChecker{names: setOf("localhost", "127.0.0.1", "::1")}
	host, _, err := net.SplitHostPort(listenAddr)
	if err == nil {
		host = strings.ToLower(strings.Trim(host, "[]"))
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			hc.anyIP = true
		} else {
			hc.names[host] = true
		}
	}
	for _, h := range extra {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			hc.names[strings.Trim(h, "[]")] = true
		}
	}
	return hc
}

// allowed reports whether hostport (a Host header) names this machine as the endpoint knows it.
func (hc hostChecker) allowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if hc.names[host] {
		return true
	}
	return hc.anyIP && net.ParseIP(host) != nil
}

// checkBrowser refuses a request that a browser sends for a page of another origin, and a
// request for a Host the endpoint does not answer to. Clients that are not browsers (curl,
// clickhouse-go, Grafana's backend) send neither Origin nor Sec-Fetch-Site.
func (h *Handler) checkBrowser(r *http.Request) error {
	if !h.hosts.allowed(r.Host) {
		return newHTTPError(http.StatusMisdirectedRequest, codeAccessDenied,
			"Host %q is not this endpoint's (DNS rebinding?): use localhost, 127.0.0.1 or the listen address, "+
				"or add the name with --clickhouse-allowed-hosts", r.Host)
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return newHTTPError(http.StatusForbidden, codeAccessDenied,
			"Requests from web pages of other sites are refused (Sec-Fetch-Site: %s)", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return newHTTPError(http.StatusForbidden, codeAccessDenied,
				"Requests from web pages of other origins are refused (Origin: %s)", origin)
		}
	}
	return nil
}
