package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

	// User and Password authenticate the read-write user. User defaults to "default". An empty
	// Password accepts requests that give none, as ClickHouse's default user does.
	User     string
	Password string

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
	if o.MaxQuerySize <= 0 {
		o.MaxQuerySize = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
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
	if o.Password == "" {
		missing = append(missing, "user "+o.User)
	}
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
