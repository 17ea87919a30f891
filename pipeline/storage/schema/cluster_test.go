package schema

import (
	"regexp"
	"strings"
	"testing"
)

// TestClusterDDLCoversEveryTable checks the generated cluster schema statically, since
// no ClickHouse cluster runs here: every table of the single-node migrations gets a
// Replicated local table with its own Keeper path and a Distributed table of the same
// name over it; materialized views read and write local tables only; plain views keep
// their single-node query; every other statement is carried over.
func TestClusterDDLCoversEveryTable(t *testing.T) {
	book, ms, err := ClusterDDL("prod")
	if err != nil {
		t.Fatal(err)
	}
	singles, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(singles) {
		t.Fatalf("%d cluster migrations for %d migrations", len(ms), len(singles))
	}
	byName := map[string]ClusterStatement{}
	named := map[string]bool{}
	var all []ClusterStatement
	all = append(all, book...)
	for _, m := range ms {
		all = append(all, m.Statements...)
	}
	for _, s := range all {
		if s.Kind != "insert" && !strings.Contains(s.SQL, " ON CLUSTER `prod`") {
			t.Errorf("%s %s: no ON CLUSTER:\n%s", s.Kind, s.Name, s.SQL)
		}
		if s.Name != "" {
			// Per migration: a later migration may replace a view of an earlier one.
			byName[s.Migration+"|"+s.Name] = s
			named[s.Name] = true
		}
		if s.Kind == "drop view" && !strings.HasPrefix(s.SQL, "DROP VIEW IF EXISTS chatnight.") {
			t.Errorf("drop view: %s", s.SQL)
		}
		// A rebuilt table swaps and drops local tables on every node, or the
		// Distributed table and its local table together.
		if s.Kind == "exchange tables" && !regexp.MustCompile(`^EXCHANGE TABLES chatnight\.\w+_local AND chatnight\.\w+_local ON CLUSTER`).MatchString(s.SQL) {
			t.Errorf("exchange tables: %s", s.SQL)
		}
	}

	createTable := regexp.MustCompile(`(?is)^CREATE TABLE IF NOT EXISTS chatnight\.(\w+)\s*\(.*ENGINE\s*=\s*(\w*)MergeTree`)
	createMV := regexp.MustCompile(`(?is)^CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight\.(\w+)\s+TO\s+chatnight\.(\w+)`)
	createView := regexp.MustCompile(`(?is)^CREATE VIEW IF NOT EXISTS chatnight\.(\w+)\s+AS\s+(.*)$`)
	tables := map[string]bool{"schema_migrations": true}
	counts := map[string]int{}
	for _, m := range singles {
		for _, stmt := range m.Statements {
			stmt = strings.TrimSpace(stmt)
			switch {
			case createTable.MatchString(stmt):
				g := createTable.FindStringSubmatch(stmt)
				tables[g[1]] = true
				counts["table"]++
				local, ok := byName[m.Name+"|chatnight."+g[1]+LocalSuffix]
				if !ok || local.Kind != "local table" {
					t.Errorf("table %s (%s): no local table", g[1], m.Name)
					continue
				}
				wantEngine := "ENGINE = Replicated" + g[2] + "MergeTree('/clickhouse/tables/{shard}/chatnight/" + g[1] + "', '{replica}'"
				if !strings.Contains(local.SQL, wantEngine) {
					t.Errorf("table %s: local engine is not %s…:\n%s", g[1], wantEngine, local.SQL)
				}
				// Columns, ORDER BY and settings are those of the single-node table.
				body := stmt[strings.Index(stmt, "("):]
				body = body[:strings.Index(body, "ENGINE")]
				if !strings.Contains(local.SQL, strings.TrimSpace(body)) {
					t.Errorf("table %s: local table lost its columns", g[1])
				}
				if i := strings.Index(stmt, "ORDER BY"); i < 0 || !strings.Contains(local.SQL, stmt[i:]) {
					t.Errorf("table %s: local table lost its ORDER BY and what follows", g[1])
				}
				dist, ok := byName[m.Name+"|chatnight."+g[1]]
				if !ok || dist.Kind != "distributed table" {
					t.Errorf("table %s: no Distributed table of the same name", g[1])
					continue
				}
				want := "ENGINE = Distributed('prod', 'chatnight', '" + g[1] + "_local', cityHash64("
				if !strings.Contains(dist.SQL, want) {
					t.Errorf("table %s: Distributed engine is not %s…:\n%s", g[1], want, dist.SQL)
				}
				if strings.Contains(body, "\n    community ") && !strings.Contains(dist.SQL, "cityHash64(community)") {
					t.Errorf("table %s has a community column but is not sharded by it:\n%s", g[1], dist.SQL)
				}
			case createMV.MatchString(stmt):
				g := createMV.FindStringSubmatch(stmt)
				counts["materialized view"]++
				mv := byName[m.Name+"|chatnight."+g[1]]
				if mv.Kind != "materialized view" || !strings.Contains(mv.SQL, " TO chatnight."+g[2]+LocalSuffix+" AS") {
					t.Errorf("materialized view %s does not write %s_local:\n%s", g[1], g[2], mv.SQL)
				}
				for _, ref := range regexp.MustCompile(`\bchatnight\.(\w+)`).FindAllStringSubmatch(mv.SQL[strings.Index(mv.SQL, " AS"):], -1) {
					if !strings.HasSuffix(ref[1], LocalSuffix) {
						t.Errorf("materialized view %s reads %s, not a local table", g[1], ref[0])
					}
				}
			case createView.MatchString(stmt):
				g := createView.FindStringSubmatch(stmt)
				counts["view"]++
				v := byName[m.Name+"|chatnight."+g[1]]
				if v.Kind != "view" || !strings.HasSuffix(v.SQL, g[2]) || strings.Contains(v.SQL, LocalSuffix) {
					t.Errorf("view %s is not the single-node query over the Distributed tables:\n%s", g[1], v.SQL)
				}
			}
		}
	}
	for table := range tables {
		if !named["chatnight."+table] {
			t.Errorf("table %s has no cluster form", table)
		}
	}
	if counts["table"] < 8 || counts["materialized view"] < 4 || counts["view"] < 8 {
		t.Errorf("the migrations look cut short: %v", counts)
	}
	if _, err := PrintCluster("prod"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ClusterDDL("bad name;"); err == nil {
		t.Error("a cluster name with a semicolon was accepted")
	}
}

// TestClusterDDLRefusesUnknownStatements keeps a future migration from being silently
// left out of the cluster schema.
func TestClusterDDLRefusesUnknownStatements(t *testing.T) {
	c := &converter{cluster: "prod", tables: map[string]bool{"posts": true}}
	for _, stmt := range []string{
		"ALTER TABLE chatnight.posts ADD COLUMN x String",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.m TO chatnight.nope AS SELECT 1 FROM chatnight.posts",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS chatnight.m TO chatnight.posts AS SELECT * FROM chatnight.some_view",
	} {
		if _, err := c.statement("test", stmt); err == nil {
			t.Errorf("accepted %q", stmt)
		}
	}
}
