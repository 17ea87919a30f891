// Package schema holds chatnight's ClickHouse schema as versioned migrations, embedded
// in the binary and applied by `chatnight migrate` and at start-up.
package schema

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered .sql file.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", name)
		}
		data, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: uint32(v), Name: strings.TrimSuffix(name, ".sql"), Statements: Split(string(data))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Split cuts a migration into statements at semicolons that end a line; lines that
// are only comments are dropped.
func Split(sql string) []string {
	var stmts []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			stmts = append(stmts, stmt)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

const (
	createMigrationsTable = `CREATE TABLE IF NOT EXISTS chatnight.schema_migrations
(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplacingMergeTree ORDER BY version`
	selectApplied   = "SELECT version FROM chatnight.schema_migrations FINAL"
	insertMigration = "INSERT INTO chatnight.schema_migrations (version, name) VALUES (?, ?)"
)

// Migrate applies the migrations not applied yet and returns their names. Statements
// use IF NOT EXISTS, so a migration cut short by a crash is safe to run again.
func Migrate(ctx context.Context, conn driver.Conn) ([]string, error) {
	return MigrateTo(ctx, conn, math.MaxUint32)
}

// unbounded lifts the statement time limit (the embedded endpoint's is 60 s by
// default): a migration that rebuilds a table of a large data dir runs to its end.
// The caller's context still bounds it.
func unbounded(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": 0}))
}

// MigrateTo is Migrate up to version last: the schema of an earlier release, for
// tests of upgrades.
func MigrateTo(ctx context.Context, conn driver.Conn, last uint32) ([]string, error) {
	ctx = unbounded(ctx)
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS chatnight"); err != nil {
		return nil, fmt.Errorf("create database chatnight: %w", err)
	}
	if err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range migrations {
		if applied[m.Version] || m.Version > last {
			continue
		}
		for i, stmt := range m.Statements {
			if err := conn.Exec(ctx, stmt); err != nil {
				return done, fmt.Errorf("migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := conn.Exec(ctx, insertMigration, m.Version, m.Name); err != nil {
			return done, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		done = append(done, m.Name)
	}
	return done, nil
}

// appliedVersions reads which migrations chatnight.schema_migrations records.
func appliedVersions(ctx context.Context, conn driver.Conn) (map[uint32]bool, error) {
	applied := map[uint32]bool{}
	rows, err := conn.Query(ctx, selectApplied)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return applied, nil
}
