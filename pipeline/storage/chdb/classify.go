package chdb

import (
	"context"
	"fmt"
	"runtime"
	"unsafe"
)

// QueryClass says what a statement does to state that outlives it, as the engine's own parser
// decides (chdb_classify_query_n).
type QueryClass uint32

const (
	// ReadOnly statements (SELECT, SHOW, DESCRIBE, EXPLAIN, EXISTS, CHECK) leave no trace.
	ReadOnly QueryClass = iota
	// Mutating statements (INSERT, CREATE, ALTER, DROP, TRUNCATE, RENAME, ...) change a database.
	Mutating
	// MutatingGlobal statements change state beside the databases: functions, users, named
	// collections, writes into the system database.
	MutatingGlobal
	// Control statements change the session or reach outside the engine: USE, SET, ATTACH,
	// DETACH, SYSTEM, BACKUP, KILL, INTO OUTFILE, INSERT INTO FUNCTION.
	Control
	// Unknown means the text did not parse. Treat it as a refusal when gating writes.
	Unknown
)

func (q QueryClass) String() string {
	switch q {
	case ReadOnly:
		return "read-only"
	case Mutating:
		return "mutating"
	case MutatingGlobal:
		return "mutating-global"
	case Control:
		return "control"
	default:
		return "unknown"
	}
}

// Analysis is what Classify found out about a text.
type Analysis struct {
	Class      QueryClass // the most restricted class over all statements
	Statements int        // executable statements in the text; 0 when it did not parse
}

// queryAnalysis mirrors chdb_query_analysis_v1.
type queryAnalysis struct {
	StructSize     uint32
	StatementCount uint32
	Flags          uint32
	QueryClass     uint32
}

// Classify parses query with the engine's parser, without running it, and reports its class.
func (c *Conn) Classify(ctx context.Context, query string) (Analysis, error) {
	if err := c.lock(ctx); err != nil {
		return Analysis{}, err
	}
	defer c.unlock()
	conn, err := c.conn()
	if err != nil {
		return Analysis{}, err
	}
	q := []byte(query)
	out := &queryAnalysis{StructSize: uint32(unsafe.Sizeof(queryAnalysis{}))}
	var pin runtime.Pinner
	pin.Pin(out)
	defer pin.Unpin()
	rc := c.lib.classifyQueryN(conn, bytePtr(q), uintptr(len(q)), nil, 0, out)
	runtime.KeepAlive(q)
	if rc != 0 {
		return Analysis{}, fmt.Errorf("chdb: classify %s: the engine refused", abbreviate(query))
	}
	class := QueryClass(out.QueryClass)
	if class > Unknown {
		class = Unknown
	}
	return Analysis{Class: class, Statements: int(out.StatementCount)}, nil
}
