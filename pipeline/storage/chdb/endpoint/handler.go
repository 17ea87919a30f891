package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/timezone"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb"
)

// insertPrefix is how much of a body without a query parameter is read to find out whether it is
// an INSERT with inline data, whose data must not be read as SQL.
const insertPrefix = 1 << 20

// Handler serves the ClickHouse HTTP interface from an embedded chDB engine. It is safe for
// concurrent use; statements reach the engine one at a time per connection.
type Handler struct {
	rw   *chdb.Conn // the caller's connection: the read-write user, and every write
	ro   *chdb.Conn // readonly=1: the read-only user's statements
	opts Options
	log  *slog.Logger

	hosts   hostChecker
	refused map[string]bool // lower-case names of functions and engines no statement may use

	revision    uint64 // the engine's protocol revision, as revision() reports it
	tz          *time.Location
	tzName      string
	displayName string
}

// NewHandler returns a handler that runs statements on conn and opens a second, read-only
// connection to the same engine for the read-only user. Close it to close that connection.
//
// The handler does not check where it is served from: Server refuses non-loopback addresses
// without a password, a caller mounting the handler elsewhere must do the same.
func NewHandler(conn *chdb.Conn, opts Options) (*Handler, error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	refused, err := loadRefused(conn)
	if err != nil {
		return nil, fmt.Errorf("endpoint: ask the engine for its table functions and engines: %w", err)
	}
	out, err := conn.Query("SELECT revision(), timezone(), displayName()", "TabSeparated")
	if err != nil {
		return nil, fmt.Errorf("endpoint: ask the engine for its revision: %w", err)
	}
	fields := strings.Split(strings.TrimRight(string(out), "\n"), "\t")
	if len(fields) != 3 {
		return nil, fmt.Errorf("endpoint: unexpected answer about the engine: %q", out)
	}
	rev, err := strconv.ParseUint(fields[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("endpoint: engine revision %q: %w", fields[0], err)
	}
	tz, err := timezone.Load(fields[1])
	if err != nil {
		return nil, fmt.Errorf("endpoint: engine time zone %q: %w", fields[1], err)
	}

	roSettings := map[string]string{"readonly": "1"}
	if d := opts.MaxExecutionTime; d > 0 {
		roSettings["max_execution_time"] = seconds(d)
	}
	if n := opts.MaxResultRows; n > 0 {
		roSettings["max_result_rows"] = strconv.FormatUint(n, 10)
	}
	ro, err := chdb.OpenWithSettings(conn.DataDir(), roSettings)
	if err != nil {
		return nil, fmt.Errorf("endpoint: open the read-only connection: %w", err)
	}
	return &Handler{
		rw: conn, ro: ro, opts: opts, log: opts.Logger,
		hosts: newHostChecker(opts.Addr, opts.AllowedHosts), refused: refused,
		revision: rev, tz: tz, tzName: fields[1], displayName: fields[2],
	}, nil
}

// Close closes the handler's read-only connection; the caller's connection stays open.
func (h *Handler) Close() error { return h.ro.Close() }

// ServeHTTP implements the ClickHouse HTTP interface: "/" takes queries, "/ping" answers "Ok.".
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.checkBrowser(r); err != nil {
		h.log.Warn("clickhouse endpoint: refused a browser request", slog.String("host", r.Host),
			slog.String("origin", r.Header.Get("Origin")), slog.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")))
		writeError(w, err)
		return
	}
	switch {
	case r.URL.Path == "/ping" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		writeOk(w)
		return
	case r.URL.Path != "/":
		writeError(w, newHTTPError(http.StatusNotFound, codeUnsupportedMethod, "There is no handler for %s", r.URL.Path))
		return
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if !r.URL.Query().Has("query") {
			writeOk(w)
			return
		}
	case r.Method == http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeError(w, newHTTPError(http.StatusMethodNotAllowed, codeUnsupportedMethod, "Method %s is not allowed", r.Method))
		return
	}

	start := time.Now()
	rec := &exchange{}
	var err error
	pprof.Do(r.Context(), pprof.Labels(storage.StageLabel, "endpoint"), func(ctx context.Context) {
		err = h.serve(ctx, w, r, rec)
	})
	attrs := []any{
		slog.String("user", rec.user), slog.String("query_id", rec.queryID),
		slog.String("query", abbreviate(rec.sql)), slog.Duration("elapsed", time.Since(start)),
	}
	if err != nil {
		writeError(w, err)
		// Errors in what clients send are theirs to see; only the endpoint's own failures are
		// worth an operator's attention.
		level := slog.LevelError
		var he *httpError
		var ce *chdb.Error
		if errors.As(err, &he) || errors.As(err, &ce) || errors.Is(err, context.Canceled) {
			level = slog.LevelDebug
		}
		h.log.Log(r.Context(), level, "clickhouse endpoint: query failed", append(attrs, slog.Any("error", err))...)
		return
	}
	h.log.Debug("clickhouse endpoint: query", attrs...)
}

// exchange collects what a request turned out to be, for the log.
type exchange struct {
	user, queryID, sql string
}

func writeOk(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	_, _ = io.WriteString(w, "Ok.\n")
}

func (h *Handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, rec *exchange) error {
	ro, user, err := h.authenticate(r)
	rec.user = user
	if err != nil {
		return err
	}
	req, err := h.parseRequest(r, ro, user)
	if err != nil {
		return err
	}
	rec.queryID = req.queryID

	var body io.Reader = http.NoBody
	if r.Method == http.MethodPost {
		decoded, closeBody, err := decodeBody(r.Body, r.Header.Get("Content-Encoding"), req.decompress)
		if err != nil {
			return err
		}
		defer closeBody()
		body = decoded
	}

	sql, ins, data, err := h.readStatement(req, body)
	rec.sql = sql
	if err != nil {
		return err
	}
	if ins != nil {
		rec.sql = ins.head
		res, err := h.insert(ctx, req, ins, data)
		if err != nil {
			return err
		}
		return h.respond(w, r, req, "", nil, res)
	}
	return h.query(ctx, w, r, req, sql)
}

// readStatement works out the statement of a request and, for an INSERT with data, where its data
// is. As in ClickHouse, a query URL parameter comes first and the body follows it, after a line
// break; without the parameter the body is the whole statement.
func (h *Handler) readStatement(req *request, body io.Reader) (string, *insertSplit, io.Reader, error) {
	if req.query != "" {
		if ins, ok := splitInsert(req.query); ok {
			inline := req.query[ins.dataStart:]
			if inline != "" {
				inline += "\n"
			}
			return req.query, &ins, io.MultiReader(strings.NewReader(inline), body), nil
		}
		rest, err := readLimited(body, h.opts.MaxQuerySize-int64(len(req.query)))
		if err != nil {
			return req.query, nil, nil, err
		}
		if len(rest) == 0 {
			return req.query, nil, nil, nil
		}
		return req.query + "\n" + string(rest), nil, nil, nil
	}

	prefix, err := readLimited(io.LimitReader(body, insertPrefix), insertPrefix)
	if err != nil {
		return "", nil, nil, err
	}
	if ins, ok := splitInsert(string(prefix)); ok && (ins.dataStart < len(prefix) || len(prefix) < insertPrefix) {
		return string(prefix[:ins.dataStart]), &ins, io.MultiReader(bytes.NewReader(prefix[ins.dataStart:]), body), nil
	}
	rest, err := readLimited(body, h.opts.MaxQuerySize-int64(len(prefix)))
	if err != nil {
		return "", nil, nil, err
	}
	return string(prefix) + string(rest), nil, nil, nil
}

// readLimited reads r to the end, refusing more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, requestError(codeCannotParseInput, "Cannot read the request body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, newHTTPError(http.StatusRequestEntityTooLarge, codeSyntaxError,
			"Query is too large: more than %d bytes of SQL (insert data goes after a FORMAT clause and does not count)", limit)
	}
	return b, nil
}

func (h *Handler) insert(ctx context.Context, req *request, ins *insertSplit, data io.Reader) (*chdb.Result, error) {
	if req.readOnly {
		return nil, readonlyError(req, "INSERT")
	}
	if len(req.params) > 0 && strings.Contains(ins.head, "{") {
		return nil, requestError(codeUnsupportedMethod, "Query parameters in INSERT statements are not supported by the embedded ClickHouse endpoint")
	}
	// The engine parses the head as the statement it runs; the guard sees it with a FORMAT
	// clause, without which it does not parse on its own.
	vetted := ins.head + " FORMAT Native"
	a, err := h.ro.Classify(ctx, vetted)
	if err != nil {
		return nil, err
	}
	if err := h.vet(ctx, req, vetted, a); err != nil {
		return nil, err
	}
	if a.Statements != 1 {
		return nil, requestError(codeSyntaxError, "Cannot parse the INSERT statement %q", abbreviate(ins.head))
	}
	sp, err := spool(data, h.opts.TempDir)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, requestError(codeCannotParseInput, "%v", err)
	}
	defer sp.Close()
	var res *chdb.Result
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "engine insert "+insertTable(ins.head)), func(ctx context.Context) {
		res, err = h.rw.Insert(ctx, chdb.Statement{
			SQL:      ins.head,
			Format:   ins.format,
			Settings: req.settings,
			Database: req.database,
		}, sp)
	})
	return res, err
}

// insertTable is the table an insert head ("INSERT INTO db.t (a, b)") names, for
// profiles.
func insertTable(head string) string {
	f := strings.Fields(strings.ReplaceAll(head, "(", " ("))
	for i := 0; i+1 < len(f); i++ {
		if strings.EqualFold(f[i], "INTO") {
			if strings.EqualFold(f[i+1], "TABLE") && i+2 < len(f) {
				return f[i+2]
			}
			return f[i+1]
		}
	}
	return "?"
}

func (h *Handler) query(ctx context.Context, w http.ResponseWriter, r *http.Request, req *request, sql string) error {
	if strings.TrimSpace(sql) == "" {
		return requestError(codeSyntaxError, "Empty query")
	}
	switch firstKeyword(sql) {
	case "SET", "USE":
		// Without sessions a SET or USE lasts for its own request, which ends with it: nothing to
		// do. Running it would change the engine session every request shares.
		return h.respond(w, r, req, "", nil, &chdb.Result{})
	}

	conn := h.rw
	if req.role == roleReadOnly {
		conn = h.ro
	}
	a, err := conn.Classify(ctx, sql)
	if err != nil {
		return err
	}
	if err := h.vet(ctx, req, sql, a); err != nil {
		return err
	}

	format := req.format
	if format == "" {
		format = "TabSeparated"
	}
	outFormat := format
	if f, ok := formatClause(sql); ok {
		outFormat = f
	}

	var res *chdb.Result
	pprof.Do(ctx, pprof.Labels(storage.StageLabel, "engine query"), func(ctx context.Context) {
		res, err = conn.Run(ctx, chdb.Statement{
			SQL:      sql,
			Format:   format,
			Params:   req.params,
			Settings: req.settings,
			Database: req.database,
		})
	})
	if err != nil {
		return err
	}
	return h.respond(w, r, req, outFormat, res.Data, res)
}

func readonlyError(req *request, what string) error {
	why := "the request is read-only"
	switch {
	case req.role == roleReadOnly:
		why = "user " + req.user + " is read-only"
	case req.readOnly && req.query != "":
		why = "GET requests and readonly=1 are read-only; use POST"
	}
	return newHTTPError(http.StatusForbidden, codeReadonly, "%s: Cannot execute query in readonly mode (%s)", why, what)
}

// respond writes a successful answer: the data in format, transcoded and compressed as the
// request asks.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, req *request, format string, data []byte, res *chdb.Result) error {
	if strings.EqualFold(format, "Native") {
		var err error
		if data, err = transcodeNative(data, min(req.revision, h.revision), h.tz); err != nil {
			return fmt.Errorf("endpoint: %w", err)
		}
	}
	hd := w.Header()
	if req.compress && len(data) > 0 {
		var err error
		if data, err = blockCompress(data, req.compressMethod, req.compressLevel); err != nil {
			return err
		}
	}
	if enc := negotiateEncoding(r.Header.Get("Accept-Encoding")); req.httpCompression && enc != "" {
		var err error
		if data, err = httpCompress(data, enc); err != nil {
			return err
		}
		hd.Set("Content-Encoding", enc)
		hd.Add("Vary", "Accept-Encoding")
	}
	hd.Set("Content-Type", contentType(format))
	if format != "" {
		hd.Set("X-ClickHouse-Format", format)
	}
	hd.Set("X-ClickHouse-Query-Id", req.queryID)
	hd.Set("X-ClickHouse-Timezone", h.tzName)
	hd.Set("X-ClickHouse-Server-Display-Name", h.displayName)
	hd.Set("X-ClickHouse-Summary", fmt.Sprintf(
		`{"read_rows":"%d","read_bytes":"0","written_rows":"%d","written_bytes":"%d","total_rows_to_read":"0","result_rows":"0","result_bytes":"%d","elapsed_ns":"%d"}`,
		res.RowsRead, res.RowsWritten, res.BytesWritten, len(data), res.Elapsed.Nanoseconds()))
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
	return nil
}

func contentType(format string) string {
	f := strings.ToLower(format)
	switch {
	case f == "":
		return "text/plain; charset=UTF-8"
	case strings.HasPrefix(f, "tabseparated") || strings.HasPrefix(f, "tsv"):
		return "text/tab-separated-values; charset=UTF-8"
	case strings.HasPrefix(f, "csv"):
		return "text/csv; charset=UTF-8; header=absent"
	case strings.HasPrefix(f, "json"):
		return "application/json; charset=UTF-8"
	case f == "native" || strings.HasPrefix(f, "rowbinary") || f == "parquet" || f == "arrow" || f == "arrowstream" || f == "orc":
		return "application/octet-stream"
	}
	return "text/plain; charset=UTF-8"
}

func abbreviate(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
