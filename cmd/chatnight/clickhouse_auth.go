package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage/chdb/endpoint"
)

// Passwords of the embedded ClickHouse endpoint come from the environment or from a
// file, never from a flag's value (which `ps` shows to every user of the machine), and
// are never logged.
const (
	envCHPassword         = "CHATNIGHT_CLICKHOUSE_PASSWORD"
	envCHReadOnlyPassword = "CHATNIGHT_CLICKHOUSE_READONLY_PASSWORD"
)

// embeddedCHFlags configure the embedded ClickHouse endpoint: its read-write user
// (this process's own connection uses it), an optional read-only user for Grafana and
// analysts, and the limits every query runs under.
type embeddedCHFlags struct {
	User                 string
	PasswordFile         string
	ReadOnlyUser         string
	ReadOnlyPasswordFile string
	MaxExecutionTime     time.Duration
	MaxResultRows        uint64
}

func (f *embeddedCHFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.User, "clickhouse-user", "default", "read-write user of the embedded ClickHouse endpoint")
	fs.StringVar(&f.PasswordFile, "clickhouse-password-file", "",
		"file holding the read-write user's password (or set "+envCHPassword+"); required to listen on a non-loopback address")
	fs.StringVar(&f.ReadOnlyUser, "clickhouse-readonly-user", "",
		"a read-only user of the embedded ClickHouse endpoint, e.g. for Grafana: reads only, no writes, DDL or settings")
	fs.StringVar(&f.ReadOnlyPasswordFile, "clickhouse-readonly-password-file", "",
		"file holding the read-only user's password (or set "+envCHReadOnlyPassword+")")
	fs.DurationVar(&f.MaxExecutionTime, "clickhouse-max-execution-time", 60*time.Second,
		"longest a query on the embedded endpoint may run (fixed for the read-only user; 0: no limit)")
	fs.Uint64Var(&f.MaxResultRows, "clickhouse-max-result-rows", 1_000_000,
		"most rows a query on the embedded endpoint may return (fixed for the read-only user; 0: no limit)")
}

// options turns the flags into endpoint options, reading the passwords.
func (f *embeddedCHFlags) options(addr string) (endpoint.Options, error) {
	pw, err := secret(envCHPassword, f.PasswordFile, "--clickhouse-password-file")
	if err != nil {
		return endpoint.Options{}, err
	}
	ropw, err := secret(envCHReadOnlyPassword, f.ReadOnlyPasswordFile, "--clickhouse-readonly-password-file")
	if err != nil {
		return endpoint.Options{}, err
	}
	if f.ReadOnlyUser == "" && ropw != "" {
		return endpoint.Options{}, fmt.Errorf("a read-only password is set but no --clickhouse-readonly-user")
	}
	return endpoint.Options{
		Addr: addr, User: f.User, Password: pw,
		ReadOnlyUser: f.ReadOnlyUser, ReadOnlyPassword: ropw,
		MaxExecutionTime: f.MaxExecutionTime, MaxResultRows: f.MaxResultRows,
	}, nil
}

// dsn is how this process reaches the endpoint at addr: as the read-write user. The
// DSN holds the password, so it is only ever logged through storage.Redact.
func (f *embeddedCHFlags) dsn(addr string, o endpoint.Options) string {
	u := url.URL{Scheme: "http", Host: addr, Path: "/default"}
	if o.Password != "" {
		u.User = url.UserPassword(o.User, o.Password)
	} else if o.User != "" && o.User != "default" {
		u.User = url.User(o.User)
	}
	return u.String()
}

// secret reads a password from a file (flag) or, without one, from an environment
// variable. Trailing newlines of the file are dropped; errors name the file, never the
// content.
func secret(env, file, flagName string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("%s: %s is empty", flagName, file)
	}
	return pw, nil
}
