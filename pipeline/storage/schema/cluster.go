package schema

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster DDL: on a ClickHouse cluster every table of the migrations becomes two.
//
//   - <t>_local, on every node (ON CLUSTER), with the table's columns, ORDER BY and
//     settings and the Replicated variant of its engine:
//     Replicated<X>MergeTree('/clickhouse/tables/{shard}/chatnight/<t>', '{replica}', <args>).
//   - <t>, a Distributed table over <t>_local sharded by community (cityHash64), so every
//     query, insert and look-up of the single-node schema works unchanged. A table
//     without a community column is sharded by its sorting key, so rows that replace one
//     another meet on the same shard.
//
// Materialized views run where the rows land: they read the local table they watch and
// write the local table they fill. Plain views stay over the Distributed tables. Other
// statements (inserts that backfill) run once, through the Distributed tables. A plain
// view a later migration replaces is dropped ON CLUSTER.
//
// Queries that join or IN-subquery two Distributed tables need
// distributed_product_mode = 'global' in the users' profile (deploy/compose sets it).

// ClusterZKPath is the Keeper path of a replicated table; {shard} and {replica} are
// server macros.
const ClusterZKPath = "/clickhouse/tables/{shard}/chatnight/"

// LocalSuffix names the per-node table under a Distributed one.
const LocalSuffix = "_local"

var (
	reDatabase  = regexp.MustCompile(`(?is)^CREATE DATABASE IF NOT EXISTS (\w+)\s*$`)
	reTable     = regexp.MustCompile(`(?is)^CREATE TABLE IF NOT EXISTS chatnight\.(\w+)\s*(\(.*\))\s*ENGINE\s*=\s*(\w*)MergeTree(?:\s*\(([^)]*)\))?(.*)$`)
	reMV        = regexp.MustCompile(`(?is)^CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight\.(\w+)\s+TO\s+chatnight\.(\w+)\s+AS\s+(.*)$`)
	reView      = regexp.MustCompile(`(?is)^CREATE VIEW IF NOT EXISTS chatnight\.(\w+)\s+AS\s+(.*)$`)
	reInsert    = regexp.MustCompile(`(?is)^INSERT INTO `)
	reDropView  = regexp.MustCompile(`(?is)^DROP VIEW IF EXISTS chatnight\.(\w+)\s*$`)
	reExchange  = regexp.MustCompile(`(?is)^EXCHANGE TABLES chatnight\.(\w+) AND chatnight\.(\w+)\s*$`)
	reDropTable = regexp.MustCompile(`(?is)^DROP TABLE IF EXISTS chatnight\.(\w+)\s*$`)
	reDropIndex = regexp.MustCompile(`(?is)^ALTER TABLE chatnight\.(\w+)\s+(DROP INDEX IF EXISTS \w+(?:\s*,\s*DROP INDEX IF EXISTS \w+)*)\s*$`)
	reUpdate    = regexp.MustCompile(`(?is)^ALTER TABLE chatnight\.(\w+)\s+(UPDATE\s.*)$`)
	reOrderBy   = regexp.MustCompile(`(?is)\bORDER BY\s+(\([^)]*\)|[\w.]+)`)
	reTableRef  = regexp.MustCompile(`\bchatnight\.(\w+)\b`)
	reCommunity = regexp.MustCompile(`(?m)^\s*community\s`)
)

// ClusterStatement is one statement of the cluster schema and where it came from.
type ClusterStatement struct {
	Migration string // e.g. 0001_core, or "bookkeeping"
	Kind      string // database, local table, distributed table, materialized view, view, insert
	Name      string // the object created (chatnight.x), "" for inserts
	SQL       string
}

// ClusterMigration is a migration turned into cluster DDL.
type ClusterMigration struct {
	Version    uint32
	Name       string
	Statements []ClusterStatement
}

// ClusterDDL turns the embedded migrations into the cluster schema for cluster, with
// the bookkeeping table first. It fails on a statement it does not know how to place.
func ClusterDDL(cluster string) (bookkeeping []ClusterStatement, migrations []ClusterMigration, err error) {
	if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`).MatchString(cluster) {
		return nil, nil, fmt.Errorf("cluster name %q: use letters, digits, '_' or '-'", cluster)
	}
	ms, err := Migrations()
	if err != nil {
		return nil, nil, err
	}
	tables := map[string]bool{"schema_migrations": true}
	for _, m := range ms {
		for _, s := range m.Statements {
			if g := reTable.FindStringSubmatch(strings.TrimSpace(s)); g != nil {
				tables[g[1]] = true
			}
		}
	}
	conv := &converter{cluster: cluster, tables: tables}
	bookkeeping, err = conv.statement("bookkeeping", "CREATE DATABASE IF NOT EXISTS chatnight")
	if err != nil {
		return nil, nil, err
	}
	more, err := conv.statement("bookkeeping", createMigrationsTable)
	if err != nil {
		return nil, nil, err
	}
	bookkeeping = append(bookkeeping, more...)
	for _, m := range ms {
		cm := ClusterMigration{Version: m.Version, Name: m.Name}
		for i, s := range m.Statements {
			out, err := conv.statement(m.Name, s)
			if err != nil {
				return nil, nil, fmt.Errorf("migration %s, statement %d: %w", m.Name, i+1, err)
			}
			cm.Statements = append(cm.Statements, out...)
		}
		migrations = append(migrations, cm)
	}
	return bookkeeping, migrations, nil
}

type converter struct {
	cluster string
	tables  map[string]bool
}

func (c *converter) on() string { return " ON CLUSTER " + quoteIdent(c.cluster) }

func (c *converter) statement(migration, stmt string) ([]ClusterStatement, error) {
	stmt = strings.TrimSpace(stmt)
	if g := reDatabase.FindStringSubmatch(stmt); g != nil {
		return []ClusterStatement{{migration, "database", g[1], "CREATE DATABASE IF NOT EXISTS " + g[1] + c.on()}}, nil
	}
	if g := reTable.FindStringSubmatch(stmt); g != nil {
		name, columns, variant, args, rest := g[1], g[2], g[3], strings.TrimSpace(g[4]), g[5]
		local := name + LocalSuffix
		engineArgs := "'" + ClusterZKPath + name + "', '{replica}'"
		if args != "" {
			engineArgs += ", " + args
		}
		shardKey := "cityHash64(community)"
		if !reCommunity.MatchString(columns) {
			ob := reOrderBy.FindStringSubmatch(rest)
			if ob == nil {
				return nil, fmt.Errorf("table %s has neither a community column nor an ORDER BY to shard by", name)
			}
			shardKey = "cityHash64" + ensureParens(ob[1])
		}
		return []ClusterStatement{
			{migration, "local table", "chatnight." + local,
				"CREATE TABLE IF NOT EXISTS chatnight." + local + c.on() + "\n" + columns +
					"\nENGINE = Replicated" + variant + "MergeTree(" + engineArgs + ")" + rest},
			{migration, "distributed table", "chatnight." + name,
				"CREATE TABLE IF NOT EXISTS chatnight." + name + c.on() + " AS chatnight." + local +
					"\nENGINE = Distributed(" + quoteString(c.cluster) + ", 'chatnight', '" + local + "', " + shardKey + ")"},
		}, nil
	}
	if g := reMV.FindStringSubmatch(stmt); g != nil {
		name, target, query := g[1], g[2], g[3]
		if !c.tables[target] {
			return nil, fmt.Errorf("materialized view %s writes %s, which is not a table of the migrations", name, target)
		}
		var unknown error
		query = reTableRef.ReplaceAllStringFunc(query, func(ref string) string {
			t := strings.TrimPrefix(ref, "chatnight.")
			if !c.tables[t] {
				unknown = fmt.Errorf("materialized view %s reads %s, which is not a table: it must read local tables", name, ref)
				return ref
			}
			return "chatnight." + t + LocalSuffix
		})
		if unknown != nil {
			return nil, unknown
		}
		return []ClusterStatement{{migration, "materialized view", "chatnight." + name,
			"CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight." + name + c.on() + " TO chatnight." + target + LocalSuffix + " AS\n" + query}}, nil
	}
	if g := reView.FindStringSubmatch(stmt); g != nil {
		return []ClusterStatement{{migration, "view", "chatnight." + g[1],
			"CREATE VIEW IF NOT EXISTS chatnight." + g[1] + c.on() + " AS\n" + g[2]}}, nil
	}
	if g := reDropView.FindStringSubmatch(stmt); g != nil {
		// A plain view replaced by a later migration: views live on every node.
		return []ClusterStatement{{migration, "drop view", "", "DROP VIEW IF EXISTS chatnight." + g[1] + c.on()}}, nil
	}
	if g := reExchange.FindStringSubmatch(stmt); g != nil {
		if !c.tables[g[1]] || !c.tables[g[2]] {
			return nil, fmt.Errorf("exchange of %s and %s: both must be tables of the migrations", g[1], g[2])
		}
		// A table rebuilt with new settings: the local tables swap on every node, and
		// the Distributed tables, which name their local table, follow.
		return []ClusterStatement{{migration, "exchange tables", "",
			"EXCHANGE TABLES chatnight." + g[1] + LocalSuffix + " AND chatnight." + g[2] + LocalSuffix + c.on()}}, nil
	}
	if g := reDropTable.FindStringSubmatch(stmt); g != nil {
		if !c.tables[g[1]] {
			return nil, fmt.Errorf("table %s dropped, which is not a table of the migrations", g[1])
		}
		return []ClusterStatement{
			{migration, "drop table", "", "DROP TABLE IF EXISTS chatnight." + g[1] + c.on()},
			{migration, "drop table", "", "DROP TABLE IF EXISTS chatnight." + g[1] + LocalSuffix + c.on() + " SYNC"},
		}, nil
	}
	if g := reDropIndex.FindStringSubmatch(stmt); g != nil {
		if !c.tables[g[1]] {
			return nil, fmt.Errorf("index dropped from %s, which is not a table of the migrations", g[1])
		}
		// Skip indexes live on the local tables; the Distributed ones have none.
		return []ClusterStatement{{migration, "alter table", "chatnight." + g[1] + LocalSuffix + " (drop indexes)",
			"ALTER TABLE chatnight." + g[1] + LocalSuffix + c.on() + " " + g[2]}}, nil
	}
	if g := reUpdate.FindStringSubmatch(stmt); g != nil {
		if !c.tables[g[1]] {
			return nil, fmt.Errorf("rows updated in %s, which is not a table of the migrations", g[1])
		}
		// Rows live in the local tables; each node rewrites its own.
		return []ClusterStatement{{migration, "alter table", "chatnight." + g[1] + LocalSuffix + " (update)",
			"ALTER TABLE chatnight." + g[1] + LocalSuffix + c.on() + " " + g[2]}}, nil
	}
	if reInsert.MatchString(stmt) {
		return []ClusterStatement{{migration, "insert", "", stmt}}, nil
	}
	first := stmt
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	return nil, fmt.Errorf("no cluster form for %q: teach storage/schema/cluster.go this statement", first)
}

func ensureParens(s string) string {
	if strings.HasPrefix(s, "(") {
		return s
	}
	return "(" + s + ")"
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// PrintCluster writes the cluster schema as a SQL script.
func PrintCluster(cluster string) (string, error) {
	book, ms, err := ClusterDDL(cluster)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- chatnight cluster schema for cluster %s, generated from the embedded migrations.\n", cluster)
	write := func(s ClusterStatement) { fmt.Fprintf(&b, "\n-- %s %s\n%s;\n", s.Kind, s.Name, s.SQL) }
	for _, s := range book {
		write(s)
	}
	for _, m := range ms {
		fmt.Fprintf(&b, "\n-- migration %s\n", m.Name)
		for _, s := range m.Statements {
			write(s)
		}
		fmt.Fprintf(&b, "\n%s;\n", insertMigrationSQL(m))
	}
	return b.String(), nil
}

func insertMigrationSQL(m ClusterMigration) string {
	return fmt.Sprintf("INSERT INTO chatnight.schema_migrations (version, name) VALUES (%d, %s)", m.Version, quoteString(m.Name))
}

// MigrateCluster applies the cluster schema through conn (any node of cluster) and
// returns the migrations it applied. Like Migrate it records each one in
// chatnight.schema_migrations (Distributed there), and every statement is safe to
// run again.
func MigrateCluster(ctx context.Context, conn driver.Conn, cluster string) ([]string, error) {
	ctx = unbounded(ctx)
	book, ms, err := ClusterDDL(cluster)
	if err != nil {
		return nil, err
	}
	for _, s := range book {
		if err := conn.Exec(ctx, s.SQL); err != nil {
			return nil, fmt.Errorf("cluster schema: %s %s: %w", s.Kind, s.Name, err)
		}
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		for _, s := range m.Statements {
			if err := conn.Exec(ctx, s.SQL); err != nil {
				return done, fmt.Errorf("migration %s: %s %s: %w", m.Name, s.Kind, s.Name, err)
			}
		}
		if err := conn.Exec(ctx, insertMigration, m.Version, m.Name); err != nil {
			return done, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		done = append(done, m.Name)
	}
	return done, nil
}
