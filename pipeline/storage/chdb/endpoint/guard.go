package endpoint

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/chatnight/chatnight/pipeline/storage/chdb"
)

// The guard decides, from the engine's own parse of a statement, whether a client may run it.
//
// Why the engine's parse: chDB runs as clickhouse-local, where file() reads and writes any path
// and url() fetches from the machine, and the parser decodes escapes inside quoted names
// (`fi\x6ce` is file). No check on SQL text can be made to agree with the parser, so the guard
// asks the engine for the syntax tree (EXPLAIN AST, run on the read-only connection after the
// engine has counted exactly one statement) and walks the names of every function, table
// function, table engine, database engine and dictionary source in it.
//
// What is refused, for every user including this process:
//   - table functions, table engines and database engines outside a short allow-list of those
//     that stay inside the engine (numbers, values, merge, MergeTree, Memory, ...);
//   - scalar functions that reach files or the machine (file, catboostEvaluate, addressToLine, ...);
//   - dictionary sources other than NULL (FILE, HTTP, EXECUTABLE, CLICKHOUSE with a host, ...);
//   - INTO OUTFILE and FROM INFILE, ATTACH/DETACH, BACKUP/RESTORE and the other control
//     statements except SYSTEM and KILL;
//   - settings that name files, paths or schemas (format_schema, output_format_schema, ...).
//
// By access level:
//   - read (the read-only user, GET, readonly=1): what the engine classifies as a read, on top
//     of a connection with readonly=1;
//   - write (the read-write user): reads, INSERT, CREATE TABLE/VIEW/DATABASE and OPTIMIZE; no
//     DROP, ALTER, TRUNCATE, DELETE, RENAME, SYSTEM, KILL, dictionaries, users or functions;
//   - admin (this process's own connection, or the read-write user when the operator enables
//     admin access): everything not refused for every user, so migrations can run.

// access is what a request may do.
type access int

const (
	accessRead access = iota
	accessWrite
	accessAdmin
)

// Allow-lists, lower-case: what stays inside the engine.
var (
	allowedTableFunctions = setOf("numbers", "numbers_mt", "zeros", "zeros_mt", "values", "null", "view",
		"viewifpermitted", "viewexplain", "merge", "format", "generaterandom", "generateseries", "generate_series",
		"primes", "input", "loop", "dictionary", "mergetreeindex", "mergetreeprojection", "sqlstandardvalues")
	allowedTableEngines = setOf("mergetree", "replacingmergetree", "summingmergetree", "aggregatingmergetree",
		"collapsingmergetree", "versionedcollapsingmergetree", "coalescingmergetree", "graphitemergetree",
		"memory", "null", "log", "tinylog", "stripelog", "set", "join", "buffer", "view", "materializedview",
		"merge", "dictionary", "alias", "generaterandom", "embeddedrocksdb")
	allowedDatabaseEngines = setOf("atomic", "ordinary", "memory")
	allowedDictSources     = setOf("null")

	// Scalar functions that read files, load models from files or read the process's memory
	// map. file() is also a table function; both spellings are covered.
	refusedScalarFunctions = setOf("file", "catboostevaluate", "naivebayesclassifier",
		"naivebayesclassifierwithprob", "naivebayesclassifierwithallprobs", "addresstoline",
		"addresstolinewithinlines", "addresstosymbol", "demangle", "filesystemavailable",
		"filesystemcapacity", "filesystemunreserved", "getserversetting", "evalmlmethod")

	// Known reaching table functions and engines, in case the engine does not list them all.
	knownReaching = setOf("file", "url", "s3", "hdfs", "remote", "remotesecure", "mysql", "postgresql",
		"executable", "executablepool", "cluster", "clusterallreplicas", "urlcluster", "s3cluster",
		"filecluster", "hdfscluster", "jdbc", "odbc", "sqlite", "mongodb", "redis", "azureblobstorage",
		"gcs", "oss", "cosn", "iceberg", "deltalake", "hudi", "filesystem", "distributed", "kafka", "filelog")

	// Statement roots (the first line of EXPLAIN AST) the read-write user may run.
	writeRoots = setOf("selectwithunionquery", "selectintersectexceptquery", "insertquery", "createquery",
		"showtables", "describequery", "existstablequery", "existsdatabasequery", "existsviewquery",
		"existsdictionaryquery", "showcreatetablequery", "showcreatedatabasequery", "showcreateviewquery",
		"checkquery", "optimizequery", "explain")
	// Control statements an admin may run.
	adminControlRoots = setOf("system", "killqueryquery")
	// Statements beside writeRoots an admin may run (control class when they carry SETTINGS).
	adminRoots = setOf("alterquery", "dropquery", "truncatequery", "deletequery", "rename", "undropquery")
	// Roots whose direct Literal children are a file name: INTO OUTFILE, FROM INFILE.
	fileLiteralRoots = setOf("selectwithunionquery", "selectintersectexceptquery", "insertquery", "explain")

	// Settings whose names mention files, paths, schemas (format_schema reads a schema file,
	// output_format_schema writes one), the machine's other services, or the access rules.
	refusedSetting = regexp.MustCompile(`(?i)path|schema|template|file|_dir|directory|introspection|^readonly$|` +
		`allow_ddl|^custom_|^s3|hdfs|azure|^remote|url|^http_|dictionar|executable|user_files|^profile$|access|dialect|implicit_select|kusto|prql`)

	functionLine = regexp.MustCompile(`^\s*(Function|FunctionWithKeyValueArguments)\s+(\S+)`)
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// loadRefused asks the engine which table functions, table engines and database engines it
// has, and returns the lower-cased names of those outside the allow-lists, together with the
// refused scalar functions: the names no statement may mention.
func loadRefused(conn *chdb.Conn) (map[string]bool, error) {
	refused := map[string]bool{}
	for n := range refusedScalarFunctions {
		refused[n] = true
	}
	for n := range knownReaching {
		refused[n] = true
	}
	lists := []struct {
		query string
		allow map[string]bool
	}{
		{queryTableFunctions, allowedTableFunctions},
		{queryTableEngines, allowedTableEngines},
		{queryDatabaseEngines, allowedDatabaseEngines},
	}
	for _, l := range lists {
		out, err := conn.Query(l.query, "TabSeparatedRaw")
		if err != nil {
			return nil, err
		}
		for _, n := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			n = strings.ToLower(strings.TrimSpace(n))
			if n != "" && !l.allow[n] {
				refused[n] = true
			}
		}
	}
	return refused, nil
}

const (
	queryTableFunctions  = "SELECT name FROM system.table_functions"
	queryTableEngines    = "SELECT name FROM system.table_engines"
	queryDatabaseEngines = "SELECT name FROM system.database_engines"
	// queryFormat is how the guard reads the SETTINGS clauses of a statement: the engine prints
	// the statement back in its canonical form, with names unescaped.
	queryFormat = "SELECT formatQuerySingleLine({q:String})"
)

// vet refuses sql for req unless its access allows it. a is the engine's classification of sql.
func (h *Handler) vet(ctx context.Context, req *request, sql string, a chdb.Analysis) error {
	acc := h.access(req)
	if a.Statements > 1 {
		return requestError(codeSyntaxError, "Multi-statements are not allowed")
	}
	if a.Statements == 0 {
		// Not parsable: nothing runs. The engine's parser says why (positions count the
		// EXPLAIN AST in front).
		if _, err := h.parser(acc).Run(ctx, chdb.Statement{SQL: "EXPLAIN AST " + sql, Format: "TabSeparatedRaw", Params: req.params}); err != nil {
			return err
		}
		return forbidden(req, "statements the engine cannot classify")
	}
	switch a.Class {
	case chdb.ReadOnly:
	case chdb.Mutating:
		if acc < accessWrite {
			return readonlyError(req, a.Class.String()+" statement")
		}
	case chdb.MutatingGlobal:
		if acc < accessAdmin {
			return forbidden(req, "statements that change users, functions or the system database")
		}
	case chdb.Control:
		// Also a statement with a SETTINGS clause: decided by its root below.
		if acc < accessWrite {
			return readonlyError(req, a.Class.String()+" statement")
		}
	default:
		return forbidden(req, "statements the engine cannot classify")
	}

	res, err := h.parser(acc).Run(ctx, chdb.Statement{SQL: "EXPLAIN AST " + sql, Format: "TabSeparatedRaw", Params: req.params})
	var ce *chdb.Error
	if errors.As(err, &ce) && ce.Code == codeReadonly {
		// A SETTINGS clause on the read-only connection.
		return readonlyError(req, "SETTINGS clause")
	}
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(res.Data), "\n"), "\n")
	root := strings.ToLower(strings.Fields(lines[0] + " ?")[0])
	if !rootName(lines[0]) {
		// The statement's own FORMAT clause turned the tree into something else: refuse
		// rather than guess.
		return forbidden(req, "this statement (its syntax tree could not be read; drop its FORMAT clause)")
	}
	if a.Class == chdb.Control && !writeRoots[root] && !(acc == accessAdmin && (adminControlRoots[root] || adminRoots[root])) {
		return forbidden(req, "control statements (ATTACH, DETACH, BACKUP, RESTORE; SYSTEM and KILL need admin access)")
	}
	if acc == accessWrite && !writeRoots[root] {
		return forbidden(req, "DROP, ALTER, TRUNCATE, DELETE, RENAME and UNDROP (the operator can allow them with --clickhouse-admin)")
	}
	hasSet := false
	for i, l := range lines {
		if m := functionLine.FindStringSubmatch(l); m != nil {
			name := strings.ToLower(m[2])
			if m[1] == "FunctionWithKeyValueArguments" && !allowedDictSources[name] {
				return forbidden(req, "dictionary source "+m[2])
			}
			if h.refused[name] {
				return forbidden(req, m[2]+" (files, URLs, other servers and programs are out of reach of the endpoint)")
			}
		}
		trimmed := strings.TrimSpace(l)
		if trimmed == "Set" {
			hasSet = true
		}
		if i > 0 && fileLiteralRoots[root] && strings.HasPrefix(l, " Literal") {
			return forbidden(req, "INTO OUTFILE and FROM INFILE")
		}
		if acc == accessWrite && strings.HasPrefix(trimmed, "Dictionary definition") {
			return forbidden(req, "CREATE DICTIONARY")
		}
	}
	if hasSet {
		return h.vetSettingsClause(ctx, req, h.parser(acc), sql)
	}
	return nil
}

// rootName reports whether l looks like the first line of an EXPLAIN AST dump: a node name.
func rootName(l string) bool {
	return l != "" && (l[0] >= 'A' && l[0] <= 'Z') && !strings.ContainsAny(l[:1], " \t")
}

// vetSettingsClause refuses SETTINGS clauses that name a refused setting. EXPLAIN AST prints
// them as a bare "Set", so the engine prints the statement back in canonical form, and the
// clauses are read from that.
func (h *Handler) vetSettingsClause(ctx context.Context, req *request, conn *chdb.Conn, sql string) error {
	res, err := conn.Run(ctx, chdb.Statement{SQL: queryFormat, Format: "TabSeparatedRaw", Params: map[string]string{"q": escapeParam(sql)}})
	if err != nil {
		return err
	}
	sc := scanner{s: string(res.Data)}
	inSettings := false
	var prev token
	for {
		t, ok := sc.next()
		if !ok {
			if sc.unterminated {
				return forbidden(req, "this SETTINGS clause")
			}
			return nil
		}
		if t.is("SETTINGS") {
			inSettings = true
		}
		if inSettings && t.kind == tokPunct && t.text == "=" && (prev.kind == tokWord || prev.kind == tokQuoted) {
			if refusedSetting.MatchString(prev.text) {
				return forbidden(req, "setting "+prev.text)
			}
		}
		prev = t
	}
}

// vetSettings refuses URL settings that name a refused setting.
func vetSettings(req *request) error {
	for k := range req.settings {
		if refusedSetting.MatchString(k) {
			return forbidden(req, "setting "+k)
		}
	}
	return nil
}

// escapeParam renders s in the escaped text form the engine expects for a String parameter.
func escapeParam(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`).Replace(s)
}

// parser is the connection that parses statements for a request of access acc. EXPLAIN AST
// applies a statement's SETTINGS clause to its own context (never to the session), which the
// read-only connection refuses: the read-only user's statements cannot carry one anyway, the
// others are parsed on the read-write connection.
func (h *Handler) parser(acc access) *chdb.Conn {
	if acc == accessRead {
		return h.ro
	}
	return h.rw
}

func (h *Handler) access(req *request) access {
	switch {
	case req.readOnly:
		return accessRead
	case req.role == roleProcess || req.role == roleReadWrite && h.opts.AdminAccess:
		return accessAdmin
	}
	return accessWrite
}

func forbidden(req *request, what string) error {
	return newHTTPError(http.StatusForbidden, codeAccessDenied, "%s: Not allowed on the embedded ClickHouse endpoint: %s", req.user, what)
}
