package endpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"
)

const bigRows = 200_000

// createEvents creates a table shaped like chatnight's event tables.
func createEvents(t testing.TB, c driver.Conn, table string) {
	t.Helper()
	mustExec(t, c, "DROP TABLE IF EXISTS "+table, `CREATE TABLE `+table+` (
		ts DateTime64(3, 'UTC'), user LowCardinality(String), id UInt64, body String, tags Array(String)
	) ENGINE = MergeTree ORDER BY (user, ts)`)
}

var eventEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// sendEvents appends n rows to a batch for table and sends it.
func sendEvents(ctx context.Context, c driver.Conn, table string, n int) error {
	batch, err := c.PrepareBatch(ctx, "INSERT INTO "+table)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer batch.Close()
	users := []string{"alice", "bob", "carol", "dave"}
	for i := range n {
		tags := []string{"t" + fmt.Sprint(i%7)}
		if err := batch.Append(eventEpoch.Add(time.Duration(i)*time.Millisecond), users[i%len(users)], uint64(i),
			fmt.Sprintf("message %d", i), tags); err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

func TestBatchInsert200k(t *testing.T) {
	c := rwClient(t)
	ctx := context.Background()
	createEvents(t, c, "events_big")
	start := time.Now()
	if err := sendEvents(ctx, c, "events_big", bigRows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows appended and sent in %v", bigRows, time.Since(start))

	var (
		count, sumID, sumParsed, tagsLen uint64
		users                            uint64
		minTS, maxTS                     time.Time
	)
	err := c.QueryRow(ctx, `SELECT count(), sum(id), sum(toUInt64(substring(body, 9))), sum(length(tags)),
		uniqExact(user), min(ts), max(ts) FROM events_big`).Scan(&count, &sumID, &sumParsed, &tagsLen, &users, &minTS, &maxTS)
	if err != nil {
		t.Fatal(err)
	}
	wantSum := uint64(bigRows * (bigRows - 1) / 2)
	got := fmt.Sprint(count, sumID, sumParsed, tagsLen, users, minTS.UTC(), maxTS.UTC())
	want := fmt.Sprint(uint64(bigRows), wantSum, wantSum, uint64(bigRows), uint64(4), eventEpoch,
		eventEpoch.Add((bigRows-1)*time.Millisecond))
	if got != want {
		t.Fatalf("checksums:\n got %s\nwant %s", got, want)
	}
}

// TestConcurrentClients has writers and readers, of both users and so of both engine
// connections, work at once.
func TestConcurrentClients(t *testing.T) {
	ctx := context.Background()
	setup := rwClient(t)
	createEvents(t, setup, "events_conc")
	const workers, rounds, rows = 8, 3, 500
	writers := make([]driver.Conn, workers)
	readers := make([]driver.Conn, workers)
	for w := range workers {
		writers[w] = rwClient(t)
		readers[w] = client(t, env.srv.Addr(), testROUser, testROPassword, clickhouse.CompressionNone)
	}
	var eg errgroup.Group
	for w := range workers {
		eg.Go(func() error {
			for r := range rounds {
				if err := sendEvents(ctx, writers[w], "events_conc", rows); err != nil {
					return fmt.Errorf("worker %d: %w", w, err)
				}
				var got string
				var n uint64
				if err := readers[w].QueryRow(ctx, "SELECT {w:String} || '-' || toString({r:UInt8}), count() FROM events_conc",
					clickhouse.Named("w", fmt.Sprint(w)), clickhouse.Named("r", r)).Scan(&got, &n); err != nil {
					return fmt.Errorf("worker %d: %w", w, err)
				}
				if want := fmt.Sprintf("%d-%d", w, r); got != want || n < uint64((r+1)*rows) {
					return fmt.Errorf("worker %d: got %q and %d rows, want %q and at least %d", w, got, n, want, (r+1)*rows)
				}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		t.Error(err)
	}
	var n uint64
	if err := setup.QueryRow(ctx, "SELECT count() FROM events_conc").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != workers*rounds*rows {
		t.Fatalf("count = %d, want %d", n, workers*rounds*rows)
	}
}

func TestErrorsReachClickHouseGo(t *testing.T) {
	c := rwClient(t)
	ctx := context.Background()
	mustExec(t, c, "CREATE TABLE IF NOT EXISTS err_t (n UInt8) ENGINE = Memory")
	tests := []struct {
		name string
		run  func() error
		code int32
	}{
		{"syntax", func() error { return c.Exec(ctx, "SELEC 1") }, 62},
		{"unknown table", func() error {
			rows, err := c.Query(ctx, "SELECT * FROM no_such_table")
			if err == nil {
				rows.Close()
			}
			return err
		}, 60},
		{"unknown setting", func() error {
			return c.Exec(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"no_such_setting": 1})), "SELECT 1")
		}, 115},
		{"bad parameter", func() error {
			var n uint8
			return c.QueryRow(ctx, "SELECT {n:UInt8}", clickhouse.Named("n", "not a number")).Scan(&n)
		}, 457},
		{"result limit", func() error {
			rows, err := c.Query(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_result_rows": 10})),
				"SELECT number FROM numbers(100)")
			if err == nil {
				rows.Close()
			}
			return err
		}, 396},
		{"insert into an unknown column", func() error {
			return c.Exec(ctx, "INSERT INTO err_t (nope) VALUES (1)")
		}, 16},
		{"insert of a bad value", func() error {
			return c.Exec(ctx, "INSERT INTO err_t VALUES ('abc')")
		}, 6},
		{"multi-statement", func() error { return c.Exec(ctx, "SELECT 1; SELECT 2") }, 62},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) {
				t.Fatalf("error %v (%T) is no *clickhouse.Exception", err, err)
			}
			if ex.Code != tt.code {
				t.Fatalf("code %d, want %d: %v", ex.Code, tt.code, err)
			}
		})
	}
}

func TestNamedParameters(t *testing.T) {
	c := rwClient(t)
	ctx := context.Background()
	mustExec(t, c, "DROP TABLE IF EXISTS params_t", "CREATE TABLE params_t (k String, v UInt32) ENGINE = MergeTree ORDER BY k",
		"INSERT INTO params_t VALUES ('a', 1), ('b''s', 2), ('c', 3)")
	tests := []struct {
		name string
		ctx  context.Context
		args []any
		want uint64
	}{
		{"clickhouse.Named", ctx, []any{clickhouse.Named("x", "b's")}, 2},
		{"context parameters", clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"x": "c"})), nil, 3},
		{"no match, no injection", ctx, []any{clickhouse.Named("x", "a' OR '1'='1")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got uint64
			err := c.QueryRow(tt.ctx, "SELECT sum(v) FROM params_t WHERE k = {x:String}", tt.args...).Scan(&got)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestClickHouseGoCompression(t *testing.T) {
	ctx := context.Background()
	for _, m := range []clickhouse.CompressionMethod{
		clickhouse.CompressionLZ4, clickhouse.CompressionZSTD, clickhouse.CompressionGZIP,
		clickhouse.CompressionDeflate, clickhouse.CompressionBrotli,
	} {
		t.Run(m.String(), func(t *testing.T) {
			c := client(t, env.srv.Addr(), testProcUser, testProcPass, m)
			table := "compressed_" + m.String()
			createEvents(t, c, table)
			if err := sendEvents(ctx, c, table, 20_000); err != nil {
				t.Fatal(err)
			}
			var n, sum uint64
			if err := c.QueryRow(ctx, "SELECT count(), sum(id) FROM "+table).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			if n != 20_000 || sum != 20_000*19_999/2 {
				t.Fatalf("count, sum = %d, %d", n, sum)
			}
			var ex *clickhouse.Exception
			if err := c.Exec(ctx, "SELEC 1"); !errors.As(err, &ex) || ex.Code != 62 {
				t.Fatalf("error over %s: %v", m, err)
			}
		})
	}
}

func TestReadOnlyUser(t *testing.T) {
	ctx := context.Background()
	rw := rwClient(t)
	mustExec(t, rw, "DROP TABLE IF EXISTS ro_events", "CREATE TABLE ro_events (n UInt64) ENGINE = MergeTree ORDER BY n",
		"INSERT INTO ro_events SELECT number FROM numbers(10)")
	ro := client(t, env.srv.Addr(), testROUser, testROPassword, clickhouse.CompressionNone)

	// Reads work, also with a deadline (clickhouse-go then sends max_execution_time).
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	if err := ro.QueryRow(dctx, "SELECT count() FROM ro_events WHERE n >= {min:UInt64}", clickhouse.Named("min", 5)).Scan(&n); err != nil {
		t.Fatalf("read-only select: %v", err)
	}
	if n != 5 {
		t.Fatalf("count = %d", n)
	}

	refused := []struct {
		name string
		run  func() error
	}{
		{"batch insert", func() error {
			b, err := ro.PrepareBatch(ctx, "INSERT INTO ro_events")
			if err != nil {
				return err
			}
			if err := b.Append(uint64(99)); err != nil {
				return err
			}
			return b.Send()
		}},
		{"insert select", func() error { return ro.Exec(ctx, "INSERT INTO ro_events SELECT 1") }},
		{"create", func() error { return ro.Exec(ctx, "CREATE TABLE ro_new (n UInt8) ENGINE = Memory") }},
		{"drop", func() error { return ro.Exec(ctx, "DROP TABLE ro_events") }},
		{"truncate", func() error { return ro.Exec(ctx, "TRUNCATE TABLE ro_events") }},
		{"alter delete", func() error { return ro.Exec(ctx, "ALTER TABLE ro_events DELETE WHERE 1") }},
		{"into outfile", func() error { return ro.Exec(ctx, "SELECT 1 INTO OUTFILE '/tmp/chatnight-ro-outfile'") }},
		{"file table function", func() error { return ro.Exec(ctx, "SELECT * FROM file('/etc/hostname', 'LineAsString')") }},
		{"file function", func() error { return ro.Exec(ctx, "SELECT FILE('/etc/hostname')") }},
		{"url table function", func() error { return ro.Exec(ctx, "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')") }},
		{"system", func() error { return ro.Exec(ctx, "SYSTEM DROP DNS CACHE") }},
		{"setting change", func() error {
			return ro.Exec(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"readonly": 0, "max_threads": 1})), "SELECT 1")
		}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) || ex.Code != 164 && ex.Code != codeAccessDenied {
				t.Fatalf("got %v, want a READONLY (164) or ACCESS_DENIED (497) exception", err)
			}
		})
	}
	if err := rw.QueryRow(ctx, "SELECT count() FROM ro_events").Scan(&n); err != nil || n != 10 {
		t.Fatalf("table changed: count %d, %v", n, err)
	}

	var ex *clickhouse.Exception
	bad := client(t, env.srv.Addr(), testROUser, "wrong", clickhouse.CompressionNone)
	if err := bad.Ping(ctx); !errors.As(err, &ex) || ex.Code != 516 {
		t.Fatalf("wrong password: %v", err)
	}
	if !strings.Contains(ex.Message, testROUser) {
		t.Fatalf("auth error %q does not name the user", ex.Message)
	}
}
