package endpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// DefaultAddr is where the endpoint listens unless Options.Addr says otherwise: ClickHouse's HTTP
// port, on loopback only.
const DefaultAddr = "127.0.0.1:8123"

// AddrFlag names the command-line flag that sets Options.Addr; errors about the address mention it.
const AddrFlag = "--clickhouse-http-addr"

// Options configures the endpoint.
type Options struct {
	// Addr is the TCP address to listen on, DefaultAddr when empty. Port 0 picks a free port
	// (see Server.Addr). Listening on anything but a loopback address requires Password.
	Addr string

	// User and Password authenticate the read-write user. User defaults to "default". Password
	// is required: the endpoint answers no request without credentials, even on loopback.
	User     string
	Password string

	// ProcessUser and ProcessPassword, when the password is set, authenticate the serving
	// process's own connection: the only client that may DROP, ALTER, TRUNCATE or run SYSTEM
	// statements (migrations need them). ProcessUser defaults to "chatnight_process". Keep the
	// password in memory: a fresh random one per start.
	ProcessUser     string
	ProcessPassword string

	// AdminAccess gives the read-write user what the process's own connection may do. Off, it
	// may read, insert and create, nothing more.
	AdminAccess bool

	// AllowedHosts are extra host names (without port) accepted in the Host header, beside the
	// listen host, localhost, 127.0.0.1 and ::1. Any other Host is refused, against DNS
	// rebinding; with an unspecified listen host (0.0.0.0, ::) IP literals are accepted too.
	AllowedHosts []string

	// ReadOnlyUser, when set, is a second user whose statements run on a separate engine
	// connection with readonly=1: reads only, no writes or DDL, no table functions that reach
	// outside the engine, no INTO OUTFILE, no file() function, and no settings of its own.
	ReadOnlyUser     string
	ReadOnlyPassword string

	// MaxExecutionTime and MaxResultRows, when set, bound every query. For the read-write user
	// they are defaults that a request's own settings may change; for the read-only user they are
	// fixed.
	MaxExecutionTime time.Duration
	MaxResultRows    uint64

	// MaxQuerySize bounds the SQL text read from a request body (insert data is not counted).
	// 0 means 64 MiB.
	MaxQuerySize int64

	// TempDir receives insert bodies larger than a few MiB while they wait for the engine.
	// Empty means os.TempDir().
	TempDir string

	// Logger receives one debug record per request and the errors. Nil means slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.User == "" {
		o.User = "default"
	}
	if o.ProcessUser == "" {
		o.ProcessUser = "chatnight_process"
	}
	if o.MaxQuerySize <= 0 {
		o.MaxQuerySize = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// check refuses options a handler cannot serve safely wherever it listens.
func (o Options) check() error {
	if o.Password == "" {
		return fmt.Errorf("endpoint: the read-write user %s has no password; the embedded ClickHouse answers no request without credentials", o.User)
	}
	if o.ProcessPassword != "" && (o.ProcessUser == o.User || o.ProcessUser == o.ReadOnlyUser) {
		return fmt.Errorf("endpoint: user name %q is reserved for the process's own connection; choose another", o.ProcessUser)
	}
	return nil
}

func (o Options) validate(ctx context.Context) error {
	if o.ReadOnlyUser != "" && o.ReadOnlyUser == o.User {
		return fmt.Errorf("endpoint: the read-only user %q is also the read-write user; give them different names", o.User)
	}
	if o.MaxExecutionTime < 0 {
		return fmt.Errorf("endpoint: negative MaxExecutionTime %v", o.MaxExecutionTime)
	}
	loopback, err := isLoopback(ctx, o.Addr)
	if err != nil {
		return err
	}
	if loopback {
		return nil
	}
	var missing []string
	if o.ReadOnlyUser != "" && o.ReadOnlyPassword == "" {
		missing = append(missing, "read-only user "+o.ReadOnlyUser)
	}
	if len(missing) > 0 {
		return fmt.Errorf("endpoint: refusing to serve the embedded ClickHouse on %s, which is not a loopback address, "+
			"without a password for %s: set one, or bind %s to 127.0.0.1", o.Addr, strings.Join(missing, " and "), AddrFlag)
	}
	return nil
}

// isLoopback reports whether every address host:port can listen on is a loopback address. An empty
// host means every interface.
func isLoopback(ctx context.Context, addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("endpoint: bad listen address %q (want host:port) in %s: %w", addr, AddrFlag, err)
	}
	if host == "" {
		return false, nil
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.IsLoopback(), nil
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("endpoint: resolve listen host %q from %s: %w", host, AddrFlag, err)
	}
	if len(ips) == 0 {
		return false, errors.New("endpoint: listen host " + host + " has no address")
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false, nil
		}
	}
	return true, nil
}

// ProcessDSN is the clickhouse-go DSN of the serving process's own connection to the endpoint
// at addr, for database: the process user with its password. It holds the password: log it only
// through storage.Redact.
func (o Options) ProcessDSN(addr, database string) string {
	o = o.withDefaults()
	u := url.URL{Scheme: "http", Host: addr, Path: "/" + database, User: url.UserPassword(o.ProcessUser, o.ProcessPassword)}
	return u.String()
}

// NewPassword returns a random password: 32 hex digits, 128 bits.
func NewPassword() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
