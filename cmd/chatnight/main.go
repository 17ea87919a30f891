// Command chatnight aggregates hashtag tweetchats from X, Mastodon, Bluesky and archives
// into NATS JetStream and ClickHouse, and shows them live in the browser.
//
// `chatnight run` starts everything in one process on embedded NATS and an embedded
// ClickHouse; `ingest`, `process` and `serve` run one tier each against real servers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"run", "run every tier in one process (embedded NATS and ClickHouse unless configured)", runCmd},
	{"ingest", "pull posts from the configured sources and publish them to NATS", ingestCmd},
	{"process", "consume posts from NATS, derive threads, Q/A, sessions and graphs, write ClickHouse", processCmd},
	{"serve", "serve the live viewer, the REST API and /metrics", serveCmd},
	{"simulate", "publish a synthetic chat night to NATS", simulateCmd},
	{"import", "import archive files (x-v2, x-v1, mastodon, jetstream, tags-csv) and X compliance files", importCmd},
	{"migrate", "apply the ClickHouse schema", migrateCmd},
	{"report", "print a session's analytics (text, json or md)", reportCmd},
	{"optout", "hide an account everywhere: optout add|remove|list HANDLE", optoutCmd},
	{"purge", "erase deleted posts' rows from disk in every table (processors do it after deleted_retention)", purgeCmd},
	{"bench", "measure end-to-end throughput against the raw JetStream and ClickHouse limits", benchCmd},
	{"version", "print the version", versionCmd},
}

func main() {
	ctx, stop := signalContext()
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext is cancelled on SIGINT or SIGTERM, which starts a graceful shutdown.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Main runs a subcommand and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue *usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "chatnight %s: %s\nRun 'chatnight %s --help' for its flags.\n", c.name, ue.reason, c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "chatnight %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "chatnight: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "chatnight %s: hashtag tweetchat aggregator\n\nUsage: chatnight COMMAND [flags]\n\nCommands:\n", version)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'chatnight COMMAND --help' for the flags of a command. Every flag can also be\nset with an environment variable: --nats-url is CHATNIGHT_NATS_URL, and so on.\n")
}

func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fmt.Fprintf(stdout, "chatnight %s\n", version)
	return nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
