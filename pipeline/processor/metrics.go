package processor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Dead-letter stages of the processor: deadletter.<stage>, and the stage label of
// chatnight_processor_dead_letters_total.
const (
	DeadDecode = "process" // a line that is not a valid post
	DeadWrite  = "write"   // a message whose rows ClickHouse refuses for good
)

// Metrics of the processor.
type Metrics struct {
	Posts          prometheus.Counter
	DeadLetters    *prometheus.CounterVec
	WriteErrors    prometheus.Counter
	Batches        prometheus.Histogram
	WriteDuration  prometheus.Histogram
	DeriveDuration prometheus.Histogram
	CommitLatency  prometheus.Histogram
	Pending        prometheus.Gauge
	AckPending     prometheus.Gauge
}

// NewMetrics creates the processor metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "chatnight", "processor"
	m := &Metrics{
		Posts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "posts_total",
			Help: "Posts written to ClickHouse and acknowledged."}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dead_letters_total",
			Help: "Parked input, by stage: malformed posts on deadletter.process, messages ClickHouse refused for good on deadletter.write."}, []string{"stage"}),
		WriteErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "write_errors_total",
			Help: "Failed ClickHouse reads and writes of a batch (each is retried)."}),
		Batches: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_posts",
			Help: "Posts per written batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		WriteDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "write_duration_seconds",
			Help: "Time to write one batch to ClickHouse.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		DeriveDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "derive_duration_seconds",
			Help: "Time to derive one batch's rows, thread look-ups in ClickHouse included.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		CommitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_duration_seconds",
			Help: "Time from a batch being complete to its ack: decode, derive, write.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_pending_messages",
			Help: "Messages in the posts stream not yet delivered to a processor (consumer lag)."}),
		AckPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_ack_pending_messages",
			Help: "Messages delivered to processors and not yet acknowledged."}),
	}
	for _, stage := range []string{DeadDecode, DeadWrite} {
		m.DeadLetters.WithLabelValues(stage).Add(0)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Posts, m.DeadLetters, m.WriteErrors, m.Batches, m.WriteDuration, m.DeriveDuration, m.CommitLatency, m.Pending, m.AckPending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register processor metrics: %w", err)
		}
	}
	return m, nil
}
