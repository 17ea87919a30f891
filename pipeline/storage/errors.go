package storage

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Verdict is what to do about a failed write.
type Verdict int

const (
	// Recoverable: the server is away, busy or short of something; write the same rows
	// again later.
	Recoverable Verdict = iota
	// Rejected: these rows will fail the same way every time; park them (dead letter)
	// so the rows around them can go on.
	Rejected
	// Fatal: no row will be written until an operator fixes the setup (credentials,
	// grants, schema); stop and say so, keeping the rows for after the fix.
	Fatal
)

func (v Verdict) String() string {
	switch v {
	case Recoverable:
		return "recoverable"
	case Rejected:
		return "rejected"
	}
	return "fatal"
}

// Reasons a write fails, the reason label of chatnight_writer_errors_total.
const (
	ReasonNetwork  = "network"  // recoverable: the connection failed or timed out
	ReasonServer   = "server"   // recoverable: HTTP 5xx or 429 without an exception that says more
	ReasonBusy     = "busy"     // recoverable: too many parts, memory, disk, timeouts, replicas
	ReasonRejected = "rejected" // rejected: a ClickHouse exception about the rows
	ReasonRequest  = "request"  // rejected: HTTP 4xx without an exception
	ReasonEncode   = "encode"   // rejected: a row could not be encoded for its column
	ReasonOther    = "other"    // rejected: anything else
	ReasonSetup    = "setup"    // fatal: authentication, grants, missing tables or columns
)

var reasons = []string{ReasonNetwork, ReasonServer, ReasonBusy, ReasonRejected, ReasonRequest, ReasonEncode, ReasonOther, ReasonSetup}

// recoverableCodes are the ClickHouse exception codes of a server that is busy, short of
// resources or between replicas: the insert can succeed when retried.
var recoverableCodes = map[int32]bool{
	3:    true, // UNEXPECTED_END_OF_FILE
	32:   true, // ATTEMPT_TO_READ_AFTER_EOF
	74:   true, // CANNOT_READ_FROM_FILE_DESCRIPTOR
	75:   true, // CANNOT_WRITE_TO_FILE_DESCRIPTOR (a full disk)
	76:   true, // CANNOT_OPEN_FILE
	77:   true, // CANNOT_CLOSE_FILE
	159:  true, // TIMEOUT_EXCEEDED
	160:  true, // TOO_SLOW
	173:  true, // CANNOT_ALLOCATE_MEMORY
	198:  true, // DNS_ERROR
	202:  true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203:  true, // NO_FREE_CONNECTION
	209:  true, // SOCKET_TIMEOUT
	210:  true, // NETWORK_ERROR
	216:  true, // QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING: the previous try still runs
	225:  true, // NO_ZOOKEEPER
	236:  true, // ABORTED
	241:  true, // MEMORY_LIMIT_EXCEEDED
	242:  true, // TABLE_IS_READ_ONLY (a replica lost Keeper)
	243:  true, // NOT_ENOUGH_SPACE
	252:  true, // TOO_MANY_PARTS
	279:  true, // ALL_CONNECTION_TRIES_FAILED
	285:  true, // TOO_FEW_LIVE_REPLICAS
	286:  true, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
	319:  true, // UNKNOWN_STATUS_OF_INSERT
	394:  true, // QUERY_WAS_CANCELLED
	425:  true, // SYSTEM_ERROR
	439:  true, // CANNOT_SCHEDULE_TASK
	999:  true, // KEEPER_EXCEPTION
	1000: true, // POCO_EXCEPTION: in practice I/O errors
	1001: true, // STD_EXCEPTION: in practice file system errors such as a full disk
}

// setupCodes are the exception codes that no row can cause: the user, its grants or the
// schema are not what the writer needs.
var setupCodes = map[int32]bool{
	8:   true, // THERE_IS_NO_COLUMN
	10:  true, // NOT_FOUND_COLUMN_IN_BLOCK
	16:  true, // NO_SUCH_COLUMN_IN_TABLE
	47:  true, // UNKNOWN_IDENTIFIER
	60:  true, // UNKNOWN_TABLE
	62:  true, // SYNTAX_ERROR: the insert statements are fixed
	81:  true, // UNKNOWN_DATABASE
	115: true, // UNKNOWN_SETTING
	164: true, // READONLY
	192: true, // UNKNOWN_USER
	193: true, // WRONG_PASSWORD
	194: true, // REQUIRED_PASSWORD
	497: true, // ACCESS_DENIED
	516: true, // AUTHENTICATION_FAILED
}

// Classify says why err failed a write and what to do about it, the way Prometheus'
// remote write sorts its errors: connection errors, HTTP 5xx and 429 and the exception
// codes of a busy server are recoverable; exceptions about the setup are fatal; the rest
// is about the rows. A cancelled or expired ctx of the caller is none of these: check ctx
// first.
func Classify(err error) (reason string, v Verdict) {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch {
		case recoverableCodes[ex.Code]:
			return ReasonBusy, Recoverable
		case setupCodes[ex.Code]:
			return ReasonSetup, Fatal
		}
		return ReasonRejected, Rejected
	}
	var he *clickhouse.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.StatusCode >= 500 || he.StatusCode == http.StatusTooManyRequests:
			return ReasonServer, Recoverable
		case he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden || he.StatusCode == http.StatusNotFound:
			return ReasonSetup, Fatal
		}
		return ReasonRequest, Rejected
	}
	var ne net.Error
	var ee *encodeError
	switch {
	case errors.As(err, &ee):
		return ReasonEncode, Rejected
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, clickhouse.ErrAcquireConnTimeout):
		// context.DeadlineExceeded here is a request timeout, not the caller's ctx.
		return ReasonNetwork, Recoverable
	}
	return ReasonOther, Rejected
}

// encodeError is a row its column types refuse: it fails the same way every time.
type encodeError struct{ err error }

func (e *encodeError) Error() string { return e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }
