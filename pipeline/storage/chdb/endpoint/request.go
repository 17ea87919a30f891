package endpoint

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type role int

const (
	roleReadWrite role = iota
	roleReadOnly
	roleProcess // the serving process's own connection
)

// request is what the URL and headers of one HTTP request ask for.
type request struct {
	role     role
	user     string
	readOnly bool // refuse anything but reads: the read-only user, a GET, or readonly=1/2
	queryID  string
	query    string // the query URL parameter
	format   string // default_format
	database string
	settings map[string]string
	params   map[string]string
	revision uint64 // client_protocol_version: 0 means revision-0 Native, as chDB writes it

	compress        bool   // compress=1: answer in ClickHouse's compressed block framing
	decompress      bool   // decompress=1: the body is in that framing
	compressMethod  string // network_compression_method
	compressLevel   string // network_zstd_compression_level
	httpCompression bool   // enable_http_compression=1
}

// clientOnly lists URL parameters that steer the HTTP exchange and are no engine setting, or
// that the endpoint cannot honour and leaves out on purpose (documented in the package).
var clientOnly = map[string]bool{
	"quota_key":                   true,
	"session_timeout":             true,
	"session_check":               true,
	"buffer_size":                 true,
	"wait_end_of_query":           true, // every answer is complete before it is sent
	"http_zlib_compression_level": true,
	"stacktrace":                  true,
	"role":                        true,
}

// authenticate finds who is asking: X-ClickHouse-User/X-ClickHouse-Key, else Basic auth, else the
// user and password URL parameters, else user "default" with no password.
func (h *Handler) authenticate(r *http.Request) (role, string, error) {
	user, pass := r.Header.Get("X-ClickHouse-User"), r.Header.Get("X-ClickHouse-Key")
	if user == "" && pass == "" {
		if u, p, ok := r.BasicAuth(); ok {
			user, pass = u, p
		} else {
			q := r.URL.Query()
			user, pass = q.Get("user"), q.Get("password")
		}
	}
	if user == "" {
		user = "default"
	}
	if user == h.opts.User && equal(pass, h.opts.Password) {
		return roleReadWrite, user, nil
	}
	if h.opts.ProcessPassword != "" && user == h.opts.ProcessUser && equal(pass, h.opts.ProcessPassword) {
		return roleProcess, user, nil
	}
	if h.opts.ReadOnlyUser != "" && user == h.opts.ReadOnlyUser && equal(pass, h.opts.ReadOnlyPassword) {
		return roleReadOnly, user, nil
	}
	return 0, user, newHTTPError(http.StatusUnauthorized, codeAuthenticationFailed,
		"%s: Authentication failed: password is incorrect, or there is no user with such name", user)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// parseRequest reads the URL parameters of r.
func (h *Handler) parseRequest(r *http.Request, ro role, user string) (*request, error) {
	req := &request{
		role:     ro,
		user:     user,
		readOnly: ro == roleReadOnly || r.Method == http.MethodGet || r.Method == http.MethodHead,
		settings: map[string]string{},
		params:   map[string]string{},
	}
	for k, vs := range r.URL.Query() {
		v := vs[len(vs)-1]
		switch {
		case k == "query":
			req.query = v
		case k == "database":
			req.database = v
		case k == "default_format":
			req.format = v
		case k == "query_id":
			req.queryID = v
		case k == "user" || k == "password":
		case k == "client_protocol_version":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, requestError(codeCannotParseInput, "client_protocol_version %q is not a number", v)
			}
			req.revision = n
		case k == "compress":
			req.compress = v == "1"
		case k == "decompress":
			req.decompress = v == "1"
		case k == "network_compression_method":
			req.compressMethod = v
		case k == "network_zstd_compression_level":
			req.compressLevel = v
		case k == "enable_http_compression":
			req.httpCompression = v == "1"
		case k == "session_id":
			return nil, newHTTPError(http.StatusNotFound, codeSessionNotFound,
				"Sessions (session_id) are not supported by the embedded ClickHouse endpoint: every request stands alone")
		case k == "readonly":
			// Never changed on the shared engine session: the endpoint enforces it per request.
			if v != "0" {
				req.readOnly = true
			}
		case strings.HasPrefix(k, "param_"):
			req.params[strings.TrimPrefix(k, "param_")] = v
		case clientOnly[k]:
		default:
			req.settings[k] = v
		}
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/form-data") {
		return nil, requestError(codeUnsupportedMethod, "External tables (multipart/form-data) are not supported by the embedded ClickHouse endpoint")
	}
	if req.queryID == "" {
		req.queryID = newQueryID()
	}
	if err := vetSettings(req); err != nil {
		return nil, err
	}
	h.applyLimits(req)
	return req, nil
}

// applyLimits puts the configured bounds into the settings: as defaults for the read-write user,
// as fixed values (set on the read-only connection) for the read-only user.
func (h *Handler) applyLimits(req *request) {
	if req.role == roleReadOnly {
		// The read-only connection runs with readonly=1, which refuses any change of a setting.
		// clickhouse-go sends max_execution_time for every context with a deadline; it is dropped
		// here, and the connection's own limit applies.
		delete(req.settings, "max_execution_time")
		return
	}
	if d := h.opts.MaxExecutionTime; d > 0 {
		if _, ok := req.settings["max_execution_time"]; !ok {
			req.settings["max_execution_time"] = seconds(d)
		}
	}
	if n := h.opts.MaxResultRows; n > 0 {
		if _, ok := req.settings["max_result_rows"]; !ok {
			req.settings["max_result_rows"] = strconv.FormatUint(n, 10)
		}
	}
}

// seconds renders d as whole seconds, rounded up, for max_execution_time.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

func newQueryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", s[0:8], s[8:12], s[12:16], s[16:20], s[20:])
}
