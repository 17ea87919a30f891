package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("insert 3 rows into posts: %w", err) }
	tests := []struct {
		name    string
		err     error
		reason  string
		verdict Verdict
	}{
		{"too many parts", wrap(&clickhouse.Exception{Code: 252, Name: "TOO_MANY_PARTS"}), ReasonBusy, Recoverable},
		{"memory limit", wrap(&clickhouse.Exception{Code: 241}), ReasonBusy, Recoverable},
		{"disk full", wrap(&clickhouse.Exception{Code: 75}), ReasonBusy, Recoverable},
		{"keeper", wrap(&clickhouse.Exception{Code: 999}), ReasonBusy, Recoverable},
		{"type mismatch", wrap(&clickhouse.Exception{Code: 53}), ReasonRejected, Rejected},
		{"cannot parse", wrap(&clickhouse.Exception{Code: 27}), ReasonRejected, Rejected},
		{"unknown code", wrap(&clickhouse.Exception{Code: 12345}), ReasonRejected, Rejected},
		{"unknown table", wrap(&clickhouse.Exception{Code: 60}), ReasonSetup, Fatal},
		{"wrong password", wrap(&clickhouse.Exception{Code: 516}), ReasonSetup, Fatal},
		{"read-only user", wrap(&clickhouse.Exception{Code: 164}), ReasonSetup, Fatal},
		{"exception inside HTTP 500 decides", wrap(&clickhouse.HTTPError{StatusCode: 500, Err: &clickhouse.Exception{Code: 53}}), ReasonRejected, Rejected},
		{"HTTP 503", wrap(&clickhouse.HTTPError{StatusCode: 503, Err: errors.New("unavailable")}), ReasonServer, Recoverable},
		{"HTTP 429", wrap(&clickhouse.HTTPError{StatusCode: 429, Err: errors.New("slow down")}), ReasonServer, Recoverable},
		{"HTTP 400", wrap(&clickhouse.HTTPError{StatusCode: 400, Err: errors.New("bad")}), ReasonRequest, Rejected},
		{"HTTP 401", wrap(&clickhouse.HTTPError{StatusCode: 401, Err: errors.New("who")}), ReasonSetup, Fatal},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), ReasonNetwork, Recoverable},
		{"connection reset", wrap(syscall.ECONNRESET), ReasonNetwork, Recoverable},
		{"cut off", wrap(io.ErrUnexpectedEOF), ReasonNetwork, Recoverable},
		{"request timeout", wrap(context.DeadlineExceeded), ReasonNetwork, Recoverable},
		{"no free connection", wrap(clickhouse.ErrAcquireConnTimeout), ReasonNetwork, Recoverable},
		{"row the column refuses", wrap(&encodeError{errors.New("converting string to UInt64")}), ReasonEncode, Rejected},
		{"anything else", errors.New("surprise"), ReasonOther, Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if reason, v := Classify(tt.err); reason != tt.reason || v != tt.verdict {
				t.Errorf("Classify(%v) = %s, %s; want %s, %s", tt.err, reason, v, tt.reason, tt.verdict)
			}
		})
	}
}

// TestWriterFailures runs the Writer against an HTTP server that fails the way
// ClickHouse does, through clickhouse-go: the error is classified, counted by table and
// reason, and the insert carried the batch id as its query id.
func TestWriterFailures(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		code    string // X-ClickHouse-Exception-Code
		body    string
		reason  string
		verdict Verdict
	}{
		{"server unavailable", http.StatusServiceUnavailable, "", "overloaded", ReasonServer, Recoverable},
		{"too many parts", http.StatusInternalServerError, "252", "Code: 252. DB::Exception: Too many parts (600). (TOO_MANY_PARTS)", ReasonBusy, Recoverable},
		{"type mismatch", http.StatusBadRequest, "53", "Code: 53. DB::Exception: Type mismatch in VALUES. (TYPE_MISMATCH)", ReasonRejected, Rejected},
		{"unknown table", http.StatusNotFound, "60", "Code: 60. DB::Exception: Unknown table chatnight.posts. (UNKNOWN_TABLE)", ReasonSetup, Fatal},
		{"bad request", http.StatusBadRequest, "", "nonsense", ReasonRequest, Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var queryIDs []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				queryIDs = append(queryIDs, r.URL.Query().Get("query_id"))
				mu.Unlock()
				if tt.code != "" {
					w.Header().Set("X-ClickHouse-Exception-Code", tt.code)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			w, m := testWriter(t, srv.Listener.Addr().String())
			err := w.Write(context.Background(), &Batch{ID: "posts-7-9", Posts: []PostRow{{ID: "x:1", Community: "c"}}})
			if err == nil {
				t.Fatal("Write succeeded against a failing server")
			}
			if reason, v := Classify(err); reason != tt.reason || v != tt.verdict {
				t.Errorf("Classify(%v) = %s, %s; want %s, %s", err, reason, v, tt.reason, tt.verdict)
			}
			if got := counter(m.Errors.WithLabelValues("posts", tt.reason)); got != 1 {
				t.Errorf("errors_total{posts,%s} = %v, want 1", tt.reason, got)
			}
			if got := counter(m.Rows.WithLabelValues("posts")); got != 0 {
				t.Errorf("rows_total{posts} = %v after a failure, want 0", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(queryIDs) == 0 || queryIDs[0] != "posts-7-9-posts" {
				t.Errorf("query ids %q, want posts-7-9-posts", queryIDs)
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		w, m := testWriter(t, addr)
		err = w.Write(context.Background(), &Batch{Posts: []PostRow{{ID: "x:1", Community: "c"}}})
		if reason, v := Classify(err); reason != ReasonNetwork || v != Recoverable {
			t.Errorf("Classify(%v) = %s, %s; want network, recoverable", err, reason, v)
		}
		if got := counter(m.Errors.WithLabelValues("posts", ReasonNetwork)); got != 1 {
			t.Errorf("errors_total{posts,network} = %v, want 1", got)
		}
	})
}

func testWriter(t *testing.T, addr string) (*Writer, *WriterMetrics) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{addr}, DialTimeout: 2 * time.Second,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionNone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m, err := NewWriterMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return NewWriter(conn, m), m
}

func TestWriterMetricsRegisterOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewWriterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriterMetrics(reg); err == nil {
		t.Fatal("registering the writer metrics twice on one registry succeeded")
	}
	if _, err := NewWriterMetrics(nil); err != nil {
		t.Fatalf("unregistered writer metrics: %v", err)
	}
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
