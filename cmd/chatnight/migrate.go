package main

import (
	"context"
	"fmt"
	"io"
)

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("migrate", "migrate [flags]", stderr, &o, flagsClickHouse|flagsEmbedded)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := o.logger(stderr)
	if err != nil {
		return err
	}
	st := newStack(log)
	defer st.close()
	if err := st.connectClickHouse(ctx, &o); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrate: schema is up to date")
	return nil
}
