package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/chatnight/chatnight/web/optout"
)

// optoutCmd manages the opt-out list: `chatnight optout add|remove|list [HANDLE]`.
func optoutCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("optout", "optout add|remove HANDLE | optout list [flags]\n\n"+
		"An opted-out account's posts are hidden and the account is shown under a pseudonym in the\n"+
		"viewer, the API, transcripts, graph exports and reports; nothing stored is deleted.\n"+
		"HANDLE is a handle (with or without @) or an account id such as x:12345",
		stdout, &o, flagsClickHouse|flagsEmbedded)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usagef(fs, "say add, remove or list")
	}
	verb := rest[0]
	rest = rest[1:]
	switch {
	case verb == "list" && len(rest) == 0:
	case (verb == "add" || verb == "remove") && len(rest) == 1:
		if _, err := optout.Subject(rest[0]); err != nil {
			return err
		}
	case verb == "list":
		return usagef(fs, "optout list takes no HANDLE")
	case verb == "add" || verb == "remove":
		return usagef(fs, "optout %s takes one HANDLE, got %d", verb, len(rest))
	default:
		return usagef(fs, "unknown action %q: say add, remove or list", verb)
	}
	log, err := o.logger(stderr)
	if err != nil {
		return err
	}
	st := newStack(log)
	defer st.close()
	if err := connectToolClickHouse(ctx, st, fs, &o); err != nil {
		return err
	}
	list := optout.NewOptOuts(st.ch, log)
	s, _ := optout.Subject(cmp.Or(strings.Join(rest, ""), "-"))
	switch verb {
	case "add":
		seen, err := list.Seen(ctx, s)
		if err != nil {
			return err
		}
		if err := list.Add(ctx, s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "optout: %s is opted out: hidden everywhere from the next read on (stored posts are kept)\n", s)
		if !seen {
			fmt.Fprintf(stdout, "optout: no stored post is by %s yet: check the spelling (a handle such as colin_hung, "+
				"user@instance or name.bsky.social, or an id such as x:12345); its posts will be hidden when they come\n", s)
		}
	case "remove":
		listed, err := list.List(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(listed, s) {
			fmt.Fprintf(stdout, "optout: %s is not on the opt-out list; nothing changed (see `chatnight optout list`)\n", s)
			return nil
		}
		if err := list.Remove(ctx, s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "optout: %s is shown again\n", s)
	case "list":
		subjects, err := list.List(ctx)
		if err != nil {
			return err
		}
		if len(subjects) == 0 {
			fmt.Fprintln(stderr, "optout: no account is opted out")
		}
		for _, s := range subjects {
			fmt.Fprintln(stdout, s)
		}
	}
	return nil
}

// connectToolClickHouse connects a short-lived tool (report, optout) to ClickHouse.
// Without --clickhouse-dsn it opens the embedded engine on the data dir, with its HTTP
// endpoint on a free port unless --clickhouse-http-addr is given. The embedded engine
// serves one process per data dir: when `chatnight run` holds it, the error says to
// reach that process's endpoint instead.
func connectToolClickHouse(ctx context.Context, st *stack, fs *flag.FlagSet, o *Options) error {
	if o.ClickHouseDSN == "" {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "clickhouse-http-addr" })
		if !given && !envSet("clickhouse-http-addr") {
			o.ClickHouseHTTPAddr = "127.0.0.1:0"
		}
	}
	err := st.connectClickHouse(ctx, o)
	if err != nil && o.ClickHouseDSN == "" {
		return fmt.Errorf("%w\n\nThe embedded ClickHouse in %s can be opened by one process at a time; if it is locked or in use "+
			"(`chatnight run` is up), pass --clickhouse-dsn http://127.0.0.1:8123/default to use that process's endpoint",
			err, strings.TrimSuffix(o.DataDir, "/")+"/clickhouse")
	}
	return err
}

func envSet(flagName string) bool {
	_, ok := os.LookupEnv(EnvName(flagName))
	return ok
}
