package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingest counters, labelled by source.
type Metrics struct {
	Posts          *prometheus.CounterVec
	Invalid        *prometheus.CounterVec
	Errors         *prometheus.CounterVec
	RateLimitWaits *prometheus.CounterVec
}

// NewMetrics creates the ingest metrics and registers them with reg (nil: not
// registered, which cannot fail).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Posts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "chatnight", Subsystem: "ingest", Name: "posts_total",
			Help: "Posts published to NATS, by source.",
		}, []string{"source"}),
		Invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "chatnight", Subsystem: "ingest", Name: "invalid_records_total",
			Help: "Records a source could not parse, parked on the dead-letter subject.",
		}, []string{"source"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "chatnight", Subsystem: "ingest", Name: "errors_total",
			Help: "Failed requests and dropped connections, retried with backoff.",
		}, []string{"source"}),
		RateLimitWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "chatnight", Subsystem: "ingest", Name: "rate_limit_waits_total",
			Help: "Times a source waited for its rate-limit window to reset.",
		}, []string{"source"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Posts, m.Invalid, m.Errors, m.RateLimitWaits} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	return m, nil
}
