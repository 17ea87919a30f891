package endpoint

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/chatnight/chatnight/pipeline/storage/chdb"
)

// ClickHouse error codes the endpoint reports itself.
const (
	codeUnsupportedMethod        = 1
	codeCannotParseInput         = 27
	codeSyntaxError              = 62
	codeUnknownCompressionMethod = 89
	codeUnknownSetting           = 115
	codeReadonly                 = 164
	codeCannotDecompress         = 271
	codeSessionNotFound          = 372
	codeAccessDenied             = 497
	codeAuthenticationFailed     = 516
)

// httpError is an error the endpoint answers with: an HTTP status, a ClickHouse error code for
// the X-ClickHouse-Exception-Code header, and a message in ClickHouse's "Code: N. ..." form, which
// clickhouse-go turns into a *clickhouse.Exception.
type httpError struct {
	status int
	code   int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func newHTTPError(status, code int, format string, args ...any) *httpError {
	return &httpError{status: status, code: code,
		msg: fmt.Sprintf("Code: %d. DB::Exception: %s. (%s)", code, fmt.Sprintf(format, args...), codeName(code))}
}

// requestError is for requests the endpoint cannot take as they are: HTTP 400.
func requestError(code int, format string, args ...any) *httpError {
	return newHTTPError(http.StatusBadRequest, code, format, args...)
}

func codeName(code int) string {
	switch code {
	case codeUnsupportedMethod:
		return "UNSUPPORTED_METHOD"
	case codeCannotParseInput:
		return "CANNOT_PARSE_INPUT_ASSERTION_FAILED"
	case codeSyntaxError:
		return "SYNTAX_ERROR"
	case codeUnknownCompressionMethod:
		return "UNKNOWN_COMPRESSION_METHOD"
	case codeUnknownSetting:
		return "UNKNOWN_SETTING"
	case codeReadonly:
		return "READONLY"
	case codeCannotDecompress:
		return "CANNOT_DECOMPRESS"
	case codeSessionNotFound:
		return "SESSION_NOT_FOUND"
	case codeAuthenticationFailed:
		return "AUTHENTICATION_FAILED"
	case codeAccessDenied:
		return "ACCESS_DENIED"
	}
	return "UNKNOWN_EXCEPTION"
}

// writeError answers err: an *httpError as it is, an engine error with HTTP 500 and the engine's
// message and code, anything else with HTTP 500 and its text.
func writeError(w http.ResponseWriter, err error) {
	status, code, msg := http.StatusInternalServerError, 0, err.Error()
	var he *httpError
	var ce *chdb.Error
	switch {
	case errors.As(err, &he):
		status, code, msg = he.status, he.code, he.msg
	case errors.As(err, &ce):
		code, msg = ce.Code, ce.Message
	}
	h := w.Header()
	h.Del("Content-Encoding")
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if code > 0 {
		h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(code))
	}
	body := msg + "\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
