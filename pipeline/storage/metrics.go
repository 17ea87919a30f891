package storage

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Tables the Writer inserts into, the table label of its metrics.
var writerTables = []string{"sessions", "posts", "qa_marks", "edge_events"}

// WriterMetrics count what the Writer stores, per table.
type WriterMetrics struct {
	Rows          *prometheus.CounterVec   // chatnight_writer_rows_total{table}
	BatchDuration *prometheus.HistogramVec // chatnight_writer_batch_duration_seconds{table}
	Errors        *prometheus.CounterVec   // chatnight_writer_errors_total{table,reason}
}

// NewWriterMetrics creates the writer metrics and registers them with reg (nil: not
// registered). Every table and reason starts at zero so that rates exist from the start.
func NewWriterMetrics(reg prometheus.Registerer) (*WriterMetrics, error) {
	const ns, sub = "chatnight", "writer"
	m := &WriterMetrics{
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rows_total",
			Help: "Rows inserted into ClickHouse, by table."}, []string{"table"}),
		BatchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_duration_seconds",
			Help: "Time to insert one batch into a table, failed tries included.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"table"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Failed inserts, by table and reason (network, server and busy are retried)."}, []string{"table", "reason"}),
	}
	for _, t := range writerTables {
		m.Rows.WithLabelValues(t).Add(0)
		m.BatchDuration.WithLabelValues(t)
		for _, r := range reasons {
			m.Errors.WithLabelValues(t, r).Add(0)
		}
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Rows, m.BatchDuration, m.Errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register writer metrics: %w", err)
		}
	}
	return m, nil
}
