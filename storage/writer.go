package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Insert statements of the tables the processor writes, one place each.
const (
	insertSessions = "INSERT INTO chatnight.sessions"
	insertPosts    = "INSERT INTO chatnight.posts"
	insertQAMarks  = "INSERT INTO chatnight.qa_marks"
	insertEdges    = "INSERT INTO chatnight.edge_events"
)

// Writer writes processor batches.
type Writer struct {
	conn driver.Conn
	// Observe, when set, is told each table's rows and write time.
	Observe func(table string, rows int, took time.Duration, err error)
}

// NewWriter writes through conn.
func NewWriter(conn driver.Conn) *Writer { return &Writer{conn: conn} }

// Write inserts b table by table. Posts go before what is derived from them, so a
// reader never sees a Q/A mark or an edge whose post is missing. A failed Write may
// have stored some tables: writing the same batch again is safe, since every table
// deduplicates on its key.
func (w *Writer) Write(ctx context.Context, b *Batch) error {
	if err := insertRows(ctx, w, insertSessions, "sessions", b.Sessions); err != nil {
		return err
	}
	if err := insertRows(ctx, w, insertPosts, "posts", b.Posts); err != nil {
		return err
	}
	if err := insertRows(ctx, w, insertQAMarks, "qa_marks", b.QAMarks); err != nil {
		return err
	}
	return insertRows(ctx, w, insertEdges, "edge_events", b.Edges)
}

func insertRows[T any](ctx context.Context, w *Writer, stmt, table string, rows []T) (err error) {
	if len(rows) == 0 {
		return nil
	}
	start := time.Now()
	defer func() {
		if w.Observe != nil {
			w.Observe(table, len(rows), time.Since(start), err)
		}
	}()
	batch, err := w.conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer batch.Close()
	for i := range rows {
		if err := batch.AppendStruct(&rows[i]); err != nil {
			return fmt.Errorf("append row to %s: %w", table, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}
