package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/post"
)

// Insert statements of the tables the processor writes, one place each, naming the
// columns in the order of columns.go.
var (
	insertSessions = insertStatement("chatnight.sessions", sessionColumns)
	insertPosts    = insertStatement("chatnight.posts", postColumns)
	insertQAMarks  = insertStatement("chatnight.qa_marks", qaMarkColumns)
	insertEdges    = insertStatement("chatnight.edge_events", edgeColumns)
	insertCells    = insertStatement("chatnight.detected_cells", detectedCellColumns)
	insertBursts   = insertStatement("chatnight.bursts", burstColumns)
	insertSegments = insertStatement("chatnight.account_segments", segmentColumns)
	insertClaims   = insertStatement("chatnight.account_claims", claimColumns)
	insertPeople   = insertStatement("chatnight.account_people", personColumns)
	insertCopies   = insertStatement("chatnight.post_copies", copyColumns)
	insertTexts    = insertStatement("chatnight.post_texts", textColumns)
)

// insertSettings apply to every insert: the materialized views on posts run side by
// side rather than one after the other.
var insertSettings = clickhouse.Settings{"parallel_view_processing": 1}

// Writer writes processor batches.
type Writer struct {
	conn    driver.Conn
	metrics *WriterMetrics

	mu       sync.Mutex
	sessions map[string]string // session rows this writer stored: id -> content
}

// NewWriter writes through conn and counts in m (nil: not counted).
func NewWriter(conn driver.Conn, m *WriterMetrics) *Writer {
	return &Writer{conn: conn, metrics: m, sessions: map[string]string{}}
}

// Conn is the connection w writes through.
func (w *Writer) Conn() driver.Conn { return w.conn }

// Write inserts b table by table. Posts go before what is derived from them, so a
// reader never sees a Q/A mark or an edge whose post is missing. A failed Write may
// have stored some tables: writing the same batch again is safe, since every table
// deduplicates on its key.
//
// A session row depends only on the communities config, so almost every batch repeats
// the rows of the previous one: rows this Writer has stored with the same content are
// not written again.
//
// Each insert runs under the query id "<b.ID>-<table>" (when b.ID is set), so a batch
// can be found in system.query_log and the endpoint's log. A failed insert is counted by
// table and reason; Classify tells whether to write the batch again.
func (w *Writer) Write(ctx context.Context, b *Batch) error {
	sessions, keys := w.newSessions(b.Sessions)
	if err := insertRows(ctx, w, b.ID, insertSessions, "sessions", sessionColumns, sessions); err != nil {
		return err
	}
	w.mu.Lock()
	for i, s := range sessions {
		w.sessions[s.Community+"\x00"+s.ID] = keys[i]
	}
	w.mu.Unlock()
	if err := insertRows(ctx, w, b.ID, insertPosts, "posts", postColumns, b.Posts); err != nil {
		return err
	}
	if err := insertRows(ctx, w, b.ID, insertCopies, "post_copies", copyColumns, b.Copies); err != nil {
		return err
	}
	if err := insertRows(ctx, w, b.ID, insertTexts, "post_texts", textColumns, b.Texts); err != nil {
		return err
	}
	if err := insertRows(ctx, w, b.ID, insertQAMarks, "qa_marks", qaMarkColumns, b.QAMarks); err != nil {
		return err
	}
	if err := insertRows(ctx, w, b.ID, insertEdges, "edge_events", edgeColumns, b.Edges); err != nil {
		return err
	}
	if err := insertRows(ctx, w, b.ID, insertSegments, "account_segments", segmentColumns, b.Segments); err != nil {
		return err
	}
	if err := insertRows(ctx, w, b.ID, insertClaims, "account_claims", claimColumns, b.Claims); err != nil {
		return err
	}
	if err := insertRows(ctx, w, b.ID, insertPeople, "account_people", personColumns, b.People); err != nil {
		return err
	}
	return insertRows(ctx, w, b.ID, insertConsent, "account_consent", consentColumns, b.Consent)
}

// WriteDetected stores detected sessions placed after a batch (package bursts): the
// cells first, then the sessions, so a reader finding a session finds its cells.
func (w *Writer) WriteDetected(ctx context.Context, cells []DetectedCellRow, bursts []BurstRow) error {
	if err := insertRows(ctx, w, "", insertCells, "detected_cells", detectedCellColumns, cells); err != nil {
		return err
	}
	return insertRows(ctx, w, "", insertBursts, "bursts", burstColumns, bursts)
}

// WithoutDeleted returns posts without those recorded as deleted at their source.
func (w *Writer) WithoutDeleted(ctx context.Context, posts []*post.Post) ([]*post.Post, error) {
	ids := make([]string, len(posts))
	for i, p := range posts {
		ids[i] = p.ID
	}
	deleted, err := DeletedAmong(ctx, w.conn, ids)
	if err != nil || len(deleted) == 0 {
		return posts, err
	}
	out := posts[:0:0]
	for _, p := range posts {
		if !deleted[p.ID] {
			out = append(out, p)
		}
	}
	return out, nil
}

// newSessions returns the session rows not stored by w yet with the same content, and
// their content keys.
func (w *Writer) newSessions(rows []SessionRow) ([]SessionRow, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []SessionRow
	var keys []string
	for _, s := range rows {
		key := fmt.Sprintf("%d|%d|%s|%q", s.Start.UnixNano(), s.End.UnixNano(), s.Kind, s.Hosts)
		if w.sessions[s.Community+"\x00"+s.ID] == key {
			continue
		}
		out = append(out, s)
		keys = append(keys, key)
	}
	return out, keys
}

func insertRows[T any](ctx context.Context, w *Writer, batchID, stmt, table string, cols []column[T], rows []T) (err error) {
	if len(rows) == 0 {
		return nil
	}
	opts := []clickhouse.QueryOption{clickhouse.WithSettings(insertSettings)}
	if batchID != "" {
		opts = append(opts, clickhouse.WithQueryID(batchID+"-"+table))
	}
	ctx = clickhouse.Context(ctx, opts...)
	start := time.Now()
	defer func() { w.observe(ctx, table, len(rows), time.Since(start), err) }()
	batch, err := w.conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer batch.Close()
	if err := appendColumns(batch, cols, rows); err != nil {
		return fmt.Errorf("append rows to %s: %w", table, &encodeError{err})
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}

// observe counts one insert: its rows when it worked, its reason when it failed (not
// when ctx ended: the processor is stopping, nothing is wrong with the rows).
func (w *Writer) observe(ctx context.Context, table string, rows int, took time.Duration, err error) {
	if w.metrics == nil {
		return
	}
	w.metrics.BatchDuration.WithLabelValues(table).Observe(took.Seconds())
	switch {
	case err == nil:
		w.metrics.Rows.WithLabelValues(table).Add(float64(rows))
	case ctx.Err() == nil:
		reason, _ := Classify(err)
		w.metrics.Errors.WithLabelValues(table, reason).Inc()
	}
}
