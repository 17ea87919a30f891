// Package storage connects to ClickHouse and writes chatnight's tables. The embedded
// engine and a real server differ only in the DSN: http:// speaks the HTTP interface
// (the embedded endpoint, or a server's port 8123), clickhouse:// the native protocol.
package storage

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// StageLabel is the pprof label key naming the stage a goroutine works on (decode,
// derive, lookup, write, engine insert, ...), so a CPU profile of a whole run splits
// into a cost per stage: chatnight bench prints that budget.
const StageLabel = "chatnight_stage"

// Open connects to the ClickHouse at dsn and checks that it answers.
func Open(ctx context.Context, dsn string) (driver.Conn, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse dsn %s: %w (use clickhouse://host:9000/db or http://host:8123/db)", Redact(dsn), err)
	}
	if opts.Protocol == clickhouse.HTTP && !strings.Contains(dsn, "compress") {
		// The embedded endpoint serves uncompressed bodies; on loopback nothing is lost.
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionNone}
	}
	if opts.DialTimeout == 0 || opts.DialTimeout > 10*time.Second {
		opts.DialTimeout = 10 * time.Second
	}
	opts.MaxOpenConns = max(opts.MaxOpenConns, 8)
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", Redact(dsn), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse at %s does not answer: %w (is it running? check --clickhouse-dsn / CHATNIGHT_CLICKHOUSE_DSN)", Redact(dsn), err)
	}
	return conn, nil
}

// Redact hides the password of a DSN so it can be logged.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable dsn)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
