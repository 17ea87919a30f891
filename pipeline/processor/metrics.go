package processor

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the processor.
type Metrics struct {
	Posts          prometheus.Counter
	DeadLetters    prometheus.Counter
	WriteErrors    prometheus.Counter
	Batches        prometheus.Histogram
	WriteDuration  prometheus.Histogram
	DeriveDuration prometheus.Histogram
	CommitLatency  prometheus.Histogram
	Pending        prometheus.Gauge
	AckPending     prometheus.Gauge
}

// NewMetrics creates the processor metrics and registers them with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "chatnight", "processor"
	m := &Metrics{
		Posts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "posts_total",
			Help: "Posts written to ClickHouse and acknowledged."}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dead_letters_total",
			Help: "Malformed posts parked on deadletter.process."}),
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
	if reg != nil {
		reg.MustRegister(m.Posts, m.DeadLetters, m.WriteErrors, m.Batches, m.WriteDuration, m.DeriveDuration, m.CommitLatency, m.Pending, m.AckPending)
	}
	return m
}
