package chdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatnight/chatnight/pipeline/storage/chdb/persisttest"
)

func TestQuery(t *testing.T) {
	c := testConn(t)
	tests := []struct {
		name     string
		st       Statement
		want     string
		wantCode int
	}{
		{name: "default format", st: Statement{SQL: "SELECT 1, 'a'"}, want: "1\ta\n"},
		{name: "json", st: Statement{SQL: "SELECT 1 AS x", Format: "JSONEachRow"}, want: "{\"x\":1}\n"},
		{name: "csv", st: Statement{SQL: "SELECT 'a,b' AS x", Format: "CSV"}, want: "\"a,b\"\n"},
		{name: "params", st: Statement{SQL: "SELECT {s:String}, {n:UInt64} + 1",
			Params: map[string]string{"s": `it\'s\ta`, "n": "41"}}, want: "it\\'s\\ta\t42\n"},
		{name: "param injection stays a value", st: Statement{SQL: "SELECT {s:String}",
			Params: map[string]string{"s": "x'); DROP TABLE t; --"}}, want: "x\\'); DROP TABLE t; --\n"},
		{name: "syntax error", st: Statement{SQL: "SELEC 1"}, wantCode: 62},
		{name: "unknown table", st: Statement{SQL: "SELECT * FROM no_such_table"}, wantCode: 60},
		{name: "unknown setting", st: Statement{SQL: "SELECT 1", Settings: map[string]string{"no_such_setting": "1"}}, wantCode: 115},
		{name: "bad setting name", st: Statement{SQL: "SELECT 1", Settings: map[string]string{"x = 1; DROP": "1"}}, wantCode: 115},
		{name: "unknown database", st: Statement{SQL: "SELECT 1", Database: "no_such_db"}, wantCode: 81},
		{name: "setting applies", st: Statement{SQL: "SELECT number FROM numbers(10)",
			Settings: map[string]string{"max_result_rows": "3", "result_overflow_mode": "throw"}}, wantCode: 396},
		{name: "setting is gone again", st: Statement{SQL: "SELECT count() FROM (SELECT number FROM numbers(10))"}, want: "10\n"},
		{name: "setting read back", st: Statement{SQL: "SELECT getSetting('max_threads')",
			Settings: map[string]string{"max_threads": "3"}}, want: "3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Run(context.Background(), tt.st)
			if tt.wantCode != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Code != tt.wantCode {
					t.Fatalf("Run() error = %v, want engine error code %d", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run(): %v", err)
			}
			if string(res.Data) != tt.want {
				t.Fatalf("Run() = %q, want %q", res.Data, tt.want)
			}
		})
	}
}

func TestQueryWrappers(t *testing.T) {
	c := testConn(t)
	if got := mustRun(t, c, "SELECT 2+2"); got != "4\n" {
		t.Fatalf("Query = %q", got)
	}
	out, err := c.QueryWithParams("SELECT {a:Int32} * 2", "CSV", map[string]string{"a": "21"})
	if err != nil || string(out) != "42\n" {
		t.Fatalf("QueryWithParams = %q, %v", out, err)
	}
	if v := c.LibraryVersion(); !strings.HasPrefix(Version, v) {
		t.Fatalf("LibraryVersion() = %q, want a prefix of %q", v, Version)
	}
}

func TestSessionStateIsPerStatement(t *testing.T) {
	c := testConn(t)
	ctx := context.Background()
	mustRun(t, c, "CREATE DATABASE IF NOT EXISTS session_db")
	steps := []struct {
		st   Statement
		want string
	}{
		{Statement{SQL: "SELECT currentDatabase(), getSetting('max_block_size')", Database: "session_db",
			Settings: map[string]string{"max_block_size": "1234"}}, "session_db\t1234\n"},
		{Statement{SQL: "SELECT currentDatabase(), getSetting('max_block_size') = 1234"}, "default\t0\n"},
		{Statement{SQL: "SELECT getSetting('max_block_size')", Settings: map[string]string{"max_block_size": "99"}}, "99\n"},
		{Statement{SQL: "SELECT getSetting('max_block_size')", Settings: map[string]string{"max_block_size": "99"}}, "99\n"},
		{Statement{SQL: "SELECT getSetting('max_block_size') = 99"}, "0\n"},
	}
	for i, s := range steps {
		res, err := c.Run(ctx, s.st)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if string(res.Data) != s.want {
			t.Fatalf("step %d: got %q, want %q", i, res.Data, s.want)
		}
	}
}

func TestInsert(t *testing.T) {
	c := testConn(t)
	ctx := context.Background()
	mustRun(t, c, "DROP TABLE IF EXISTS insert_t")
	mustRun(t, c, "CREATE TABLE insert_t (id UInt64, s String) ENGINE = MergeTree ORDER BY id")

	const rows = 100_000 // about 3 MB of TSV: far beyond what chDB takes inline
	var tsv bytes.Buffer
	for i := range rows {
		fmt.Fprintf(&tsv, "%d\tvalue-%d\n", i, i)
	}
	res, err := c.Insert(ctx, Statement{SQL: "INSERT INTO insert_t (id, s)", Format: "TabSeparated"}, &tsv)
	if err != nil {
		t.Fatalf("Insert TSV: %v", err)
	}
	if res.RowsWritten != rows {
		t.Errorf("RowsWritten = %d, want %d", res.RowsWritten, rows)
	}
	json := strings.NewReader("{\"id\":1000000,\"s\":\"json\"}\n{\"id\":1000001,\"s\":\"json\"}\n")
	if _, err := c.Insert(ctx, Statement{SQL: "INSERT INTO insert_t", Format: "JSONEachRow"}, json); err != nil {
		t.Fatalf("Insert JSONEachRow: %v", err)
	}
	want := fmt.Sprintf("%d\t%d\n", rows+2, (rows-1)*rows/2+1000000+1000001)
	if got := mustRun(t, c, "SELECT count(), sum(id) FROM insert_t"); got != want {
		t.Fatalf("count, sum = %q, want %q", got, want)
	}

	errTests := []struct {
		name string
		st   Statement
		data string
		code int
	}{
		{"bad data", Statement{SQL: "INSERT INTO insert_t", Format: "TabSeparated"}, "x\ty\n", 27},
		{"unknown table", Statement{SQL: "INSERT INTO no_such_table", Format: "TabSeparated"}, "1\ta\n", 60},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Insert(ctx, tt.st, strings.NewReader(tt.data))
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("Insert error = %v, want code %d", err, tt.code)
			}
		})
	}
	if got := mustRun(t, c, "SELECT count() FROM insert_t"); got != fmt.Sprintf("%d\n", rows+2) {
		t.Fatalf("failed inserts changed the table: count = %q", got)
	}
}

func TestClassify(t *testing.T) {
	c := testConn(t)
	tests := []struct {
		sql  string
		want QueryClass
		n    int
	}{
		{"SELECT 1", ReadOnly, 1},
		{"SHOW TABLES", ReadOnly, 1},
		{"INSERT INTO t VALUES (1)", Mutating, 1},
		{"DROP TABLE t", Mutating, 1},
		{"SELECT 1; DROP TABLE t", Mutating, 2},
		{"SET max_threads = 1", Control, 1},
		{"SELECT 1 INTO OUTFILE '/tmp/x'", Control, 1},
		{"SELEC 1", Unknown, 0},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			a, err := c.Classify(context.Background(), tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			if a.Class != tt.want || a.Statements != tt.n {
				t.Fatalf("Classify = %v/%d, want %v/%d", a.Class, a.Statements, tt.want, tt.n)
			}
		})
	}
}

func TestReadOnlyConnection(t *testing.T) {
	c := testConn(t)
	mustRun(t, c, "CREATE TABLE IF NOT EXISTS ro_t (a UInt8) ENGINE = Memory")
	ro, err := OpenWithSettings(c.DataDir(), map[string]string{"readonly": "1", "max_execution_time": "30"})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	tests := []struct {
		sql  string
		code int
	}{
		{"SELECT count() FROM ro_t", 0},
		{"SELECT getSetting('max_execution_time')", 0},
		{"INSERT INTO ro_t VALUES (1)", 164},
		{"CREATE TABLE ro_u (a UInt8) ENGINE = Memory", 164},
		{"DROP TABLE ro_t", 164},
		{"SELECT * FROM file('/etc/hostname', 'LineAsString')", 164},
		{"SET readonly = 0", 164},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, err := ro.Query(tt.sql, "")
			var e *Error
			switch {
			case tt.code == 0 && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.code != 0 && (!errors.As(err, &e) || e.Code != tt.code):
				t.Fatalf("error = %v, want code %d", err, tt.code)
			}
		})
	}
	if got := mustRun(t, ro, "SELECT getSetting('max_execution_time')"); got != "30\n" {
		t.Fatalf("connection setting = %q", got)
	}
	if got := mustRun(t, c, "SELECT getSetting('readonly')"); got != "0\n" {
		t.Fatalf("readonly leaked into the other connection: %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	c := testConn(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"empty", "", "empty data directory"},
		{"not a directory", filepath.Join(file, "data"), "create data directory"},
		{"second directory", t.TempDir(), "one data directory per process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra, err := Open(tt.dir)
			if err == nil {
				extra.Close()
				t.Fatalf("Open(%q) succeeded", tt.dir)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q) error %q does not say %q", tt.dir, err, tt.want)
			}
		})
	}
	// A second connection to the running engine's directory is fine.
	again, err := Open(c.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, again, "SELECT 1")
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Query("SELECT 1", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("query on closed conn: %v", err)
	}
	mustRun(t, c, "SELECT 1")
}

func TestConcurrentCallers(t *testing.T) {
	c := testConn(t)
	ctx := context.Background()
	mustRun(t, c, "DROP TABLE IF EXISTS conc_t")
	mustRun(t, c, "CREATE TABLE conc_t (g UInt8, n UInt64) ENGINE = Memory")
	const workers, rounds = 8, 10
	var eg errgroup.Group
	for g := range workers {
		eg.Go(func() error {
			for i := range rounds {
				data := fmt.Sprintf("%d\t%d\n%d\t%d\n", g, 2*i, g, 2*i+1)
				if _, err := c.Insert(ctx, Statement{SQL: "INSERT INTO conc_t", Format: "TSV"}, strings.NewReader(data)); err != nil {
					return err
				}
				want := fmt.Sprintf("%d\n", g*1000+i)
				res, err := c.Run(ctx, Statement{SQL: "SELECT {x:UInt64} * 1000 + {y:UInt64}",
					Params:   map[string]string{"x": fmt.Sprint(g), "y": fmt.Sprint(i)},
					Settings: map[string]string{"max_threads": fmt.Sprint(1 + g%3)}})
				if err != nil {
					return fmt.Errorf("worker %d round %d: %w", g, i, err)
				}
				if string(res.Data) != want {
					return fmt.Errorf("worker %d round %d: got %q, want %q", g, i, res.Data, want)
				}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		t.Error(err)
	}
	want := fmt.Sprintf("%d\t%d\n", workers*rounds*2, workers*(2*rounds-1)*(2*rounds)/2)
	if got := mustRun(t, c, "SELECT count(), sum(n) FROM conc_t"); got != want {
		t.Fatalf("count, sum = %q, want %q", got, want)
	}
}

func TestWaitRespectsContext(t *testing.T) {
	c := testConn(t)
	c.sem <- struct{}{} // hold the connection as a long statement would
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Run(ctx, Statement{SQL: "SELECT 1"})
	c.unlock()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run on a busy connection with an expired context: %v", err)
	}
}

// TestPersistence writes in one process and reads in another: rows must survive the engine
// shutting down, and a fresh process must find them in the data directory. The writer also
// checks that chDB 26.7 can boot again in the same process after its last connection closed.
func TestPersistence(t *testing.T) { persisttest.Run(t) }

// runHelper is the child side of TestPersistence.
func runHelper(mode, dir string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "helper %s: %s\n", mode, fmt.Sprintf(format, args...))
		return 1
	}
	count := func(c *Conn) string {
		out, err := c.Query("SELECT count(), sum(n) FROM persist_t", "")
		if err != nil {
			return err.Error()
		}
		return string(out)
	}
	const want = "1000\t499500\n"
	c, err := Open(dir)
	if err != nil {
		return fail("open: %v", err)
	}
	switch mode {
	case "write":
		for _, q := range []string{
			"CREATE TABLE persist_t (n UInt64) ENGINE = MergeTree ORDER BY n",
			"INSERT INTO persist_t SELECT number FROM numbers(1000)",
		} {
			if _, err := c.Query(q, ""); err != nil {
				return fail("%s: %v", q, err)
			}
		}
		if err := c.Close(); err != nil {
			return fail("close: %v", err)
		}
		// Reopen in the same process.
		if c, err = Open(dir); err != nil {
			return fail("reopen in the same process: %v", err)
		}
		if got := count(c); got != want {
			return fail("after reopen: %q, want %q", got, want)
		}
	case "read":
		if got := count(c); got != want {
			return fail("in a new process: %q, want %q", got, want)
		}
	default:
		return fail("unknown mode")
	}
	if err := c.Close(); err != nil {
		return fail("close: %v", err)
	}
	fmt.Printf("helper %s ok\n", mode)
	return 0
}
