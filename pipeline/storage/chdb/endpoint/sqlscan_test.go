package endpoint

import "testing"

func TestSplitInsert(t *testing.T) {
	tests := []struct {
		sql    string
		ok     bool
		head   string
		format string
		data   string
	}{
		{"INSERT INTO t FORMAT Native", true, "INSERT INTO t", "Native", ""},
		{"INSERT INTO `t` (`a`, `b`) FORMAT Native", true, "INSERT INTO `t` (`a`, `b`)", "Native", ""},
		{"insert into db.t format JSONEachRow {\"a\":1}", true, "insert into db.t", "JSONEachRow", "{\"a\":1}"},
		{"INSERT INTO t FORMAT CSV  \n1,2\n", true, "INSERT INTO t", "CSV", "1,2\n"},
		{"INSERT INTO t FORMAT CSV\r\n\n1,2", true, "INSERT INTO t", "CSV", "\n1,2"},
		{"INSERT INTO t FORMAT Native\n\n\x01", true, "INSERT INTO t", "Native", "\n\x01"},
		{"INSERT INTO TABLE t VALUES (1, 'a'), (2, 'b')", true, "INSERT INTO TABLE t", "Values", " (1, 'a'), (2, 'b')"},
		{"INSERT INTO t (a) SETTINGS async_insert = 1 FORMAT TSV\n1", true, "INSERT INTO t (a) SETTINGS async_insert = 1", "TSV", "1"},
		{"INSERT INTO format FORMAT TSV\n1", true, "INSERT INTO format", "TSV", "1"},
		{"INSERT INTO t (`FORMAT`, \"values\") FORMAT TSV\n1", true, "INSERT INTO t (`FORMAT`, \"values\")", "TSV", "1"},
		{"/* FORMAT x */ INSERT -- VALUES\n INTO t FORMAT TSV\n1", true, "/* FORMAT x */ INSERT -- VALUES\n INTO t", "TSV", "1"},
		{"INSERT INTO FUNCTION file('x.csv', 'CSV') FORMAT CSV\n1", true, "INSERT INTO FUNCTION file('x.csv', 'CSV')", "CSV", "1"},
		{"INSERT INTO t SELECT * FROM u FORMAT TSV", false, "", "", ""},
		{"INSERT INTO t WITH 1 AS x SELECT x", false, "", "", ""},
		{"INSERT INTO t", false, "", "", ""},
		{"SELECT 1 FORMAT TSV", false, "", "", ""},
		{"INSERT INTO t FORMAT", false, "", "", ""},
	}
	for _, tt := range tests {
		got, ok := splitInsert(tt.sql)
		if ok != tt.ok {
			t.Errorf("splitInsert(%q) ok = %v", tt.sql, ok)
			continue
		}
		if !ok {
			continue
		}
		if got.head != tt.head || got.format != tt.format || tt.sql[got.dataStart:] != tt.data {
			t.Errorf("splitInsert(%q) = %q, %q, data %q; want %q, %q, %q", tt.sql, got.head, got.format, tt.sql[got.dataStart:], tt.head, tt.format, tt.data)
		}
	}
}

func TestFormatClause(t *testing.T) {
	tests := []struct {
		sql, want string
		ok        bool
	}{
		{"SELECT 1 FORMAT JSON", "JSON", true},
		{"SELECT 1 FORMAT JSON;", "JSON", true},
		{"SELECT 1 FORMAT `JSON` SETTINGS max_threads = 1", "JSON", true},
		{"SELECT 1 SETTINGS max_threads = 1 FORMAT Native", "Native", true},
		{"SELECT format FROM t", "", false},
		{"SELECT format('{}', 'a')", "", false},
		{"SELECT * FROM (SELECT 1 FORMAT TSV)", "", false},
		{"SELECT 'FORMAT JSON'", "", false},
		{"SELECT 1 -- FORMAT JSON", "", false},
		{"SELECT 1", "", false},
	}
	for _, tt := range tests {
		got, ok := formatClause(tt.sql)
		if got != tt.want || ok != tt.ok {
			t.Errorf("formatClause(%q) = %q, %v; want %q, %v", tt.sql, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFirstKeyword(t *testing.T) {
	tests := map[string]string{
		"select 1":             "SELECT",
		"  (SELECT 1)":         "SELECT",
		"-- c\nset a = 1":      "SET",
		"/* x */ USE db":       "USE",
		"'x'":                  "",
		"":                     "",
		"INSERT INTO t VALUES": "INSERT",
	}
	for sql, want := range tests {
		if got := firstKeyword(sql); got != want {
			t.Errorf("firstKeyword(%q) = %q, want %q", sql, got, want)
		}
	}
}
