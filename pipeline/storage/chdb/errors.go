package chdb

import (
	"regexp"
	"strconv"
	"strings"
)

// Error is an error reported by the engine, such as a syntax error or an unknown table.
type Error struct {
	// Code is the ClickHouse error code ("Code: 60." gives 60), or 0 when the message has none.
	Code int
	// Message is the engine's message, as ClickHouse prints it ("Code: 60. DB::Exception: ...").
	Message string
}

func (e *Error) Error() string { return e.Message }

var codeRe = regexp.MustCompile(`^\s*Code:\s*(\d+)\.`)

func newError(msg string) *Error {
	msg = strings.TrimRight(msg, "\r\n ")
	e := &Error{Message: msg}
	if m := codeRe.FindStringSubmatch(msg); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
	}
	return e
}
