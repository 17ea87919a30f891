package ingest

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingest counters, labelled by source.
type Metrics struct {
	Posts          *prometheus.CounterVec
	Invalid        *prometheus.CounterVec
	Errors         *prometheus.CounterVec
	RateLimitWaits *prometheus.CounterVec
	Deletions      *prometheus.CounterVec
}

// NewMetrics creates the ingest metrics and registers them with reg (nil: not
// registered, which cannot fail).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	bySource := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chatnight", Subsystem: "ingest", Name: name, Help: help}, []string{"source"})
	}
	m := &Metrics{
		Posts:          bySource("posts_total", "Posts published to NATS, by source."),
		Invalid:        bySource("invalid_records_total", "Records a source could not parse, parked on the dead-letter subject."),
		Errors:         bySource("errors_total", "Failed requests and dropped connections, retried with backoff."),
		RateLimitWaits: bySource("rate_limit_waits_total", "Times a source waited for its rate-limit window to reset."),
		Deletions:      bySource("deletions_total", "Posts reported deleted at their source, by source."),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Posts, m.Invalid, m.Errors, m.RateLimitWaits, m.Deletions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	return m, nil
}

// Defaults fills what a source's config may leave nil: metrics that are not registered
// and a logger that discards.
func Defaults(m *Metrics, log *slog.Logger) (*Metrics, *slog.Logger) {
	if m == nil {
		m, _ = NewMetrics(nil) // not registered: cannot fail
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return m, log
}
