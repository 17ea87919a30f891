// Package pipeline is the middle of the data path, source -> NATS -> processor ->
// ClickHouse -> web: the canonical post and its wire format (post), the communities
// file (community), the JetStream streams and subjects (bus, bus/embedded), the stream
// processor (processor) and the derivations it runs (derive with sessions, threads, qa,
// graph), the live events it announces (live), and ClickHouse: connection, rows,
// writer and schema (storage, storage/schema), with the embedded engine
// (storage/chdb, storage/chdb/endpoint). backoff spaces out every tier's retries.
//
// Imports: pipeline packages import only each other and never ingest, web or cmd; the
// arrows inside point from processor and derive down to storage, bus, community and
// post, and live, post and backoff import nothing of chatnight. Only tests (benchmarks
// that publish simulated nights) may import ingest.
package pipeline
