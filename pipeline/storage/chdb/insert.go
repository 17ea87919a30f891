package chdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// insertChunk is how much data Insert hands the engine per append.
const insertChunk = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, insertChunk); return &b }}

// Insert runs the INSERT statement st.SQL, which names the table and optionally the columns but
// has no FORMAT clause and no data ("INSERT INTO t (a, b)"), with the rows read from data in
// st.Format (for example Native, RowBinary, JSONEachRow or TabSeparated).
//
// The data is streamed to the engine in chunks, so its size is not limited the way data written
// inline after a query is (chDB cuts that at about 256 KiB). Insert holds the connection while it
// reads data, so hand it a local file or buffer rather than a slow network stream. Parameters
// (st.Params) are not supported for inserts.
func (c *Conn) Insert(ctx context.Context, st Statement, data io.Reader) (*Result, error) {
	if len(st.Params) > 0 {
		return nil, errors.New("chdb: insert: query parameters are not supported for inserts")
	}
	if st.Format == "" {
		return nil, errors.New("chdb: insert: no input format")
	}
	return c.inSession(ctx, st, func(conn unsafe.Pointer) (*Result, error) {
		return c.insert(ctx, conn, st, data)
	})
}

// insert streams data into st on conn. The caller holds the lock.
func (c *Conn) insert(ctx context.Context, conn unsafe.Pointer, st Statement, data io.Reader) (*Result, error) {
	q, f := []byte(st.SQL), []byte(st.Format)
	stream := c.lib.streamInsertN(conn, bytePtr(q), uintptr(len(q)), bytePtr(f), uintptr(len(f)))
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	if stream == nil {
		return nil, fmt.Errorf("chdb: insert %s: the engine returned no stream", abbreviate(st.SQL))
	}
	defer c.lib.destroyInsertStream(stream) // cancels the insert unless it was finished
	if msg := c.lib.streamInsertError(stream); msg != nil {
		return nil, newError(goString(msg))
	}

	bufp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bufp)
	buf := *bufp
	for {
		n, rerr := fill(data, buf)
		if n > 0 {
			if c.lib.streamAppend(stream, &buf[0], uintptr(n)) != 0 {
				return nil, c.streamError(stream, "append data")
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("chdb: insert %s: read data: %w", abbreviate(st.SQL), rerr)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("chdb: insert %s: %w", abbreviate(st.SQL), context.Cause(ctx))
		}
	}
	return c.takeResult(c.lib.streamDone(stream), st.SQL)
}

func (c *Conn) streamError(stream unsafe.Pointer, what string) error {
	if msg := c.lib.streamInsertError(stream); msg != nil {
		return newError(goString(msg))
	}
	return fmt.Errorf("chdb: insert: %s failed without an engine message", what)
}

// fill reads from r until buf is full or r fails. Unlike io.ReadFull it reports r's error as it is,
// so that a wrapped io.EOF is a clean end and io.ErrUnexpectedEOF from r stays an error.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
