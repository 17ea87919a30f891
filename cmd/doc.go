// Package cmd holds chatnight's one binary, cmd/chatnight: its subcommands (run,
// ingest, process, serve, import, simulate, migrate, report, optout, bench, ...),
// their flags and the wiring of the tiers.
//
// What lives here: flag parsing, the stack a subcommand connects (embedded or real
// NATS and ClickHouse, the metrics registry) and the run group of each tier. What does
// not: logic of its own. A subcommand reads its flags, builds what ingest, pipeline and
// web export, and runs it.
//
// Imports: cmd may import every other folder (ingest, pipeline, web); nothing imports
// cmd.
package cmd
