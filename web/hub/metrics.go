package hub

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a connected client is dropped, the label of chatnight_web_dropped_clients_total.
const (
	DropSlow     = "slow"      // its send queue was full
	DropWrite    = "write"     // a write failed or timed out
	DropTooBig   = "too_big"   // it sent a frame over the read limit
	DropBehind   = "behind"    // it could not catch up with the live stream
	DropShutdown = "shutdown"  // the server stopped
	DropKicked   = "kicked"    // DisconnectAll
	DropTimeout  = "pong_wait" // no pong within the read deadline
)

// Reasons a connection is refused before the upgrade.
const (
	RejectOrigin = "origin"
	RejectPerIP  = "per_ip"
	RejectBad    = "bad_request"
	RejectError  = "error"
)

// Metrics counts viewers. Counters start at zero for every known reason so that rates
// exist before the first event.
type Metrics struct {
	clients  prometheus.Gauge
	dropped  *prometheus.CounterVec
	sent     prometheus.Counter
	rejected *prometheus.CounterVec
	backfill prometheus.Histogram
}

// NewMetrics creates the hub's metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "chatnight", "web"
	byReason := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, []string{"reason"})
	}
	m := &Metrics{
		clients:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "clients", Help: "Websocket viewers connected."}),
		dropped:  byReason("dropped_clients_total", "Websocket viewers the server disconnected, by reason."),
		sent:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_sent_total", Help: "Websocket messages written to viewers (hello, backfill and live)."}),
		rejected: byReason("rejected_connections_total", "Websocket connections refused before the upgrade, by reason."),
		backfill: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "backfill_duration_seconds",
			Help: "Time to read a viewer's backfill from ClickHouse.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
	}
	for _, r := range []string{DropSlow, DropWrite, DropTooBig, DropBehind, DropShutdown, DropKicked, DropTimeout} {
		m.dropped.WithLabelValues(r).Add(0)
	}
	for _, r := range []string{RejectOrigin, RejectPerIP, RejectBad, RejectError} {
		m.rejected.WithLabelValues(r).Add(0)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.clients, m.dropped, m.sent, m.rejected, m.backfill} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register web metrics: %w", err)
		}
	}
	return m, nil
}
