package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
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

// chPasswordFile, in the data dir, holds the read-write password generated at first start
// when none is given: the endpoint always requires credentials, and the tools that work on
// the same data dir find it there.
const chPasswordFile = "clickhouse-password"

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
	Admin                bool
	AllowedHosts         string
}

func (f *embeddedCHFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.User, "clickhouse-user", "default", "read-write user of the embedded ClickHouse endpoint")
	fs.StringVar(&f.PasswordFile, "clickhouse-password-file", "",
		"file holding the read-write user's password (or set "+envCHPassword+"); without either, a random one is generated into <data-dir>/"+chPasswordFile)
	fs.StringVar(&f.ReadOnlyUser, "clickhouse-readonly-user", "",
		"a read-only user of the embedded ClickHouse endpoint, e.g. for Grafana: reads only, no writes, DDL or settings")
	fs.StringVar(&f.ReadOnlyPasswordFile, "clickhouse-readonly-password-file", "",
		"file holding the read-only user's password (or set "+envCHReadOnlyPassword+")")
	fs.DurationVar(&f.MaxExecutionTime, "clickhouse-max-execution-time", 60*time.Second,
		"longest a query on the embedded endpoint may run (fixed for the read-only user; 0: no limit)")
	fs.Uint64Var(&f.MaxResultRows, "clickhouse-max-result-rows", 1_000_000,
		"most rows a query on the embedded endpoint may return (fixed for the read-only user; 0: no limit)")
	fs.BoolVar(&f.Admin, "clickhouse-admin", false,
		"let the read-write user DROP, ALTER, TRUNCATE, DELETE and run SYSTEM statements on the embedded endpoint (otherwise only this process may)")
	fs.StringVar(&f.AllowedHosts, "clickhouse-allowed-hosts", "",
		"comma-separated extra host names the embedded endpoint answers to (besides localhost, 127.0.0.1, ::1 and the listen host), e.g. this machine's name when listening on 0.0.0.0")
}

// options turns the flags into endpoint options, reading the passwords: the read-write one
// from the flag's file, the environment or the data dir (generated there at first start), and
// a fresh one for this process's own connection, which lives in memory only.
func (f *embeddedCHFlags) options(addr, dataDir string) (endpoint.Options, error) {
	pw, err := secret(envCHPassword, f.PasswordFile, "--clickhouse-password-file")
	if err != nil {
		return endpoint.Options{}, err
	}
	if pw == "" {
		if pw, err = dataDirPassword(dataDir, true); err != nil {
			return endpoint.Options{}, err
		}
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
		ProcessPassword: endpoint.NewPassword(), AdminAccess: f.Admin, AllowedHosts: splitList(f.AllowedHosts),
	}, nil
}

// dataDirPassword reads the read-write password kept in the data dir. With create, a missing
// file is created with a random password, readable by its owner only; without, a missing file
// gives "". A file others may read is refused: it is a credential.
func dataDirPassword(dataDir string, create bool) (string, error) {
	if dataDir == "" {
		return "", nil
	}
	path := filepath.Join(dataDir, chPasswordFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		fi, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("embedded ClickHouse password: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("embedded ClickHouse password file %s is readable by others (mode %v): run chmod 600 %s", path, fi.Mode().Perm(), path)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("embedded ClickHouse password file %s is empty: remove it to have a new one generated", path)
		}
		return pw, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("embedded ClickHouse password: %w", err)
	case !create:
		return "", nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", fmt.Errorf("embedded ClickHouse password: create data dir: %w", err)
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return dataDirPassword(dataDir, false) // another process created it first
	}
	if err != nil {
		return "", fmt.Errorf("embedded ClickHouse password: %w", err)
	}
	pw := endpoint.NewPassword()
	if _, err := file.WriteString(pw + "\n"); err != nil {
		file.Close()
		return "", fmt.Errorf("embedded ClickHouse password: write %s: %w", path, err)
	}
	if err := file.Close(); err != nil {
		return "", fmt.Errorf("embedded ClickHouse password: write %s: %w", path, err)
	}
	return pw, nil
}

// withLocalCredentials fills in the read-write user and password of the embedded endpoint for
// an HTTP DSN on this machine that carries none, so that `report`, `optout`, `process` and
// `serve` pointed at a running `chatnight run` need no typed password. The password comes from
// the environment or from the data dir; a DSN with credentials, or of another machine, stays
// as it is.
func withLocalCredentials(dsn string, o *Options) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") || !loopbackHost(u.Hostname()) {
		return dsn, nil
	}
	pw := os.Getenv(envCHPassword)
	if pw == "" {
		if pw, err = dataDirPassword(o.DataDir, false); err != nil || pw == "" {
			return dsn, err
		}
	}
	user := o.EmbeddedCH.User
	if user == "" {
		user = "default"
	}
	u.User = url.UserPassword(user, pw)
	return u.String(), nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
