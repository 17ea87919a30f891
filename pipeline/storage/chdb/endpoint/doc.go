// Package endpoint serves the ClickHouse HTTP interface from the embedded engine of package chdb.
//
// Why: all of chatnight's storage code speaks ClickHouse through clickhouse-go. Putting the
// embedded engine behind the same HTTP interface a ClickHouse server offers keeps that code
// identical for both setups (point clickhouse-go at this endpoint with Protocol: clickhouse.HTTP,
// or at a real server), and gives curl, Grafana and clickhouse-client a way in as well.
//
// What it implements, checked with clickhouse-go v2.51.0 and curl:
//   - The query in the query URL parameter (the body is then insert data, or more query text) or
//     in the body; default_format (TabSeparated when absent; a FORMAT clause wins), database,
//     param_<name> values for {name:Type} placeholders, query_id.
//   - Settings as URL parameters, applied to that request only. Unknown ones fail as on a server.
//     client_protocol_version, the compression switches and a few HTTP-only parameters are
//     consumed by the endpoint (see clientOnly). session_id is refused: there are no sessions,
//     and a SET or USE statement is accepted and has no effect, as without a session on a server.
//   - Native output re-encoded from chDB's revision-0 blocks for the client's
//     client_protocol_version; other formats pass through untouched.
//   - Inserts of any size with the data after a FORMAT clause or VALUES, in the body or after the
//     query parameter: the data is read completely (spilling to a temporary file), then streamed
//     into the engine.
//   - Errors as HTTP 4xx/5xx with the ClickHouse message in the body and
//     X-ClickHouse-Exception-Code, which clickhouse-go turns into *clickhouse.Exception.
//   - Compression: gzip, deflate, br, zstd and lz4 request bodies (Content-Encoding); compress=1
//     and decompress=1 (ClickHouse's LZ4/ZSTD block framing, clickhouse-go's Compression LZ4 and
//     ZSTD); compressed answers with enable_http_compression=1 and Accept-Encoding.
//   - Users: a read-write user (a password is required), an optional read-only user, and the
//     serving process's own connection, by Basic auth, X-ClickHouse-User and X-ClickHouse-Key, or
//     user and password parameters. The read-only user's statements run on their own engine
//     connection with readonly=1 and the configured limits. GET requests and readonly=1 or 2 are
//     read-only for every user, as on a server.
//   - A guard (guard.go) between every statement and the engine: from the engine's own syntax
//     tree it refuses, for every user, table functions, engines, dictionary sources and scalar
//     functions that reach files, URLs, other servers or programs, INTO OUTFILE and FROM INFILE,
//     and settings that name files; and DROP, ALTER, TRUNCATE, SYSTEM and the like for everyone
//     but the process itself (or the read-write user with AdminAccess).
//   - Browser and DNS-rebinding protection (origin.go): requests carrying a foreign Origin or a
//     Sec-Fetch-Site other than same-origin or none, and Host headers other than the listen host,
//     localhost, 127.0.0.1 and ::1, are refused before anything else.
//   - GET /ping and GET / answer "Ok.".
//
// Not implemented: sessions, external tables (multipart bodies), progress headers, query
// cancellation (a statement runs to its end or to max_execution_time), and a streaming answer:
// each answer is built in memory before it is sent.
//
// The engine runs one statement at a time per connection, so concurrent requests queue. Inserts
// read their whole body before they queue, so a slow client never holds the engine.
package endpoint
