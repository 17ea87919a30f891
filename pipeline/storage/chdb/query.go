package chdb

import (
	"context"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// Statement is one statement together with everything that applies to it alone.
type Statement struct {
	// SQL is the statement text. For Insert it must not contain a FORMAT clause or data.
	SQL string
	// Format is the output format of a query, or the input format of Insert's data.
	// Empty means TabSeparated.
	Format string
	// Params holds the values of {name:Type} placeholders, by name, in ClickHouse's escaped text form.
	Params map[string]string
	// Settings holds ClickHouse settings (name to value) for this statement only.
	Settings map[string]string
	// Database is the current database for unqualified table names; empty means "default".
	Database string
}

// Result is what a statement produced.
type Result struct {
	Data         []byte // output in the statement's format
	RowsRead     uint64
	RowsWritten  uint64
	BytesWritten uint64
	Elapsed      time.Duration
}

// Query runs query and returns its output in format (TabSeparated when empty).
func (c *Conn) Query(query, format string) ([]byte, error) {
	res, err := c.Run(context.Background(), Statement{SQL: query, Format: format})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// QueryWithParams is Query with values for the {name:Type} placeholders of query. The engine binds
// them; they are never spliced into the SQL text.
func (c *Conn) QueryWithParams(query, format string, params map[string]string) ([]byte, error) {
	res, err := c.Run(context.Background(), Statement{SQL: query, Format: format, Params: params})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// Run runs st. ctx bounds the wait for the connection; once the statement reaches the engine it
// runs to completion (bound it with the max_execution_time setting).
//
// The SQL should not be SET or USE: they would change the session for every later statement of
// the connection, which may come from other callers. Use st.Settings and st.Database instead.
func (c *Conn) Run(ctx context.Context, st Statement) (*Result, error) {
	return c.inSession(ctx, st, func(conn unsafe.Pointer) (*Result, error) {
		return c.exec(conn, st.SQL, formatOrDefault(st.Format), st.Params)
	})
}

// inSession runs fn on the connection, locked and with st's database and settings applied:
// what every statement, query or insert, goes through.
func (c *Conn) inSession(ctx context.Context, st Statement, fn func(conn unsafe.Pointer) (*Result, error)) (*Result, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	conn, err := c.conn()
	if err != nil {
		return nil, err
	}
	if err := c.prepareSession(conn, st); err != nil {
		return nil, err
	}
	return fn(conn)
}

func formatOrDefault(f string) string {
	if f == "" {
		return "TabSeparated"
	}
	return f
}

// exec runs one statement on conn. The caller holds the lock.
func (c *Conn) exec(conn unsafe.Pointer, query, format string, params map[string]string) (*Result, error) {
	q := []byte(query)
	f := []byte(format)
	var res unsafe.Pointer
	if len(params) == 0 {
		res = c.lib.queryN(conn, bytePtr(q), uintptr(len(q)), bytePtr(f), uintptr(len(f)))
	} else {
		res = c.execWithParams(conn, q, f, params)
	}
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	return c.takeResult(res, query)
}

func (c *Conn) execWithParams(conn unsafe.Pointer, q, f []byte, params map[string]string) unsafe.Pointer {
	n := len(params)
	names := make([]*byte, 0, n)
	nameLens := make([]uintptr, 0, n)
	values := make([]*byte, 0, n)
	valueLens := make([]uintptr, 0, n)
	var pin runtime.Pinner
	defer pin.Unpin()
	for k, v := range params {
		kb, vb := []byte(k), []byte(v)
		names, nameLens = append(names, pinnedPtr(&pin, kb)), append(nameLens, uintptr(len(kb)))
		values, valueLens = append(values, pinnedPtr(&pin, vb)), append(valueLens, uintptr(len(vb)))
	}
	pin.Pin(&names[0])
	pin.Pin(&values[0])
	return c.lib.queryWithParamsN(conn, bytePtr(q), uintptr(len(q)), bytePtr(f), uintptr(len(f)),
		&names[0], &nameLens[0], &values[0], &valueLens[0], uintptr(n))
}

// takeResult copies what res holds into Go memory and frees it.
func (c *Conn) takeResult(res unsafe.Pointer, query string) (*Result, error) {
	if res == nil {
		return nil, fmt.Errorf("chdb: %s: the engine returned no result", abbreviate(query))
	}
	defer c.lib.destroyQueryResult(res)
	if msg := c.lib.resultError(res); msg != nil {
		return nil, newError(goString(msg))
	}
	out := &Result{
		RowsRead:     c.lib.resultRowsRead(res),
		RowsWritten:  c.lib.resultRowsWritten(res),
		BytesWritten: c.lib.resultBytesWritten(res),
		Elapsed:      time.Duration(c.lib.resultElapsed(res) * float64(time.Second)),
	}
	if n := c.lib.resultLength(res); n > 0 {
		out.Data = append([]byte(nil), unsafe.Slice(c.lib.resultBuffer(res), n)...)
	}
	return out, nil
}

// bytePtr returns a pointer to b's first byte, or to a NUL byte when b is empty, so that C never
// sees a null pointer for an empty string.
func bytePtr(b []byte) *byte {
	if len(b) == 0 {
		return &zero
	}
	return &b[0]
}

var zero byte

func pinnedPtr(pin *runtime.Pinner, b []byte) *byte {
	p := bytePtr(b)
	pin.Pin(p)
	return p
}

func abbreviate(q string) string {
	const max = 80
	if len(q) > max {
		return q[:max] + "..."
	}
	return q
}
