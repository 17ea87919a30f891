package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// purgeCmd erases from disk the rows of posts deleted at their source. They left every
// read path when their deletion was recorded; processors erase them on their own once
// they are older than deleted_retention.
func purgeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	var olderThan time.Duration
	fs := newFlagSet("purge", "purge [flags]\n\n"+
		"Erases from disk, in every table, the rows of posts deleted at their source (Bluesky and\n"+
		"Mastodon deletes, X 404s and compliance files). They are hidden from every reader as soon as\n"+
		"the deletion is recorded; processors purge on their own after deleted_retention (default 24h).",
		stdout, &o, flagsConfig|flagsClickHouse|flagsEmbedded)
	fs.DurationVar(&olderThan, "older-than", 0, "purge only deletions recorded at least this long ago (0: all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q: purge takes only flags", fs.Arg(0))
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
	cfg, err := o.communities()
	if err != nil {
		return err
	}
	n, err := storage.Purge(ctx, st.ch, time.Now().Add(-olderThan), func(ctx context.Context, ids []string) error {
		_, err := bursts.RemovePosts(ctx, storage.NewWriter(st.ch, nil), cfg, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w (nothing is lost: run purge again)", err)
	}
	fmt.Fprintf(stdout, "purge: %d deleted posts erased from every table\n", n)
	return nil
}
