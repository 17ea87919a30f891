// Package chdb runs ClickHouse inside the chatnight process, through chDB's libchdb.so.
//
// Why: chatnight stores everything in ClickHouse and talks to it with clickhouse-go. A real
// ClickHouse server is the production setup, but a single binary that works without one is worth
// a lot for development, tests and small installs. chDB is the ClickHouse engine built as a
// library; this package loads it and offers a small, safe API over its C functions. Package
// chdb/endpoint puts the ClickHouse HTTP interface in front of it, so the storage code stays plain
// clickhouse-go whether the engine is embedded or remote.
//
// The library is bound with purego, so the package builds with CGO_ENABLED=0, and it is loaded
// only when Open is first called: a process configured for a remote ClickHouse never touches it,
// and a missing library is an error from Open, not a crash at start-up. LibraryPath says where it
// is looked for; scripts/fetch-libchdb.sh (or `make setup`) puts it there.
//
// chDB runs one engine per process, tied to one data directory. Open may be called more than once
// for that directory (each call is a separate session), but not for another one while a
// connection is open; closing the last connection shuts the engine down. Each Conn runs one
// statement at a time; its methods are safe for concurrent use and queue behind one another.
//
// chDB's own signal handlers are turned off before the engine starts: they would take SIGSEGV and
// friends away from the Go runtime.
package chdb
