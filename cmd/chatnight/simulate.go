package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/simulator"
)

func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("simulate", "simulate --community ID [--seed N] [--posts N] [--rate POSTS_PER_S] [--start TIME]", stderr, &o, flagsConfig|flagsNATS)
	communityID := fs.String("community", "", "community to simulate (required)")
	seed := fs.Uint64("seed", 1, "seed: the same seed gives the same posts")
	posts := fs.Int("posts", 500, "how many posts to publish")
	rate := fs.Float64("rate", 0, "posts per second, stamped with the time they are sent (0: as fast as possible, with generated times)")
	startFlag := fs.String("start", "", "RFC 3339 time of the first post (default: the community's latest scheduled start, or now)")
	duration := fs.Duration("duration", time.Hour, "how long the simulated chat lasts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *communityID == "" {
		fs.Usage()
		return fmt.Errorf("--community is required: %w", flag.ErrHelp)
	}
	log, cm, err := o.loggerFor(stderr, *communityID)
	if err != nil {
		return err
	}
	start := time.Now().UTC()
	switch {
	case *startFlag != "":
		if start, err = time.Parse(time.RFC3339, *startFlag); err != nil {
			return fmt.Errorf("--start %q: use RFC 3339, e.g. 2026-11-24T20:30:00-05:00", *startFlag)
		}
	case len(cm.Schedule) > 0:
		start = cm.Schedule[0].StartOnOrBefore(start)
	}
	st := newStack(log)
	defer st.close()
	if err := st.connectNATS(ctx, &o, false, "chatnight-simulate"); err != nil {
		return err
	}
	em := ingest.NewEmitter(st.js, nil, log)
	sum, err := simulator.Publish(ctx, simulator.Night{Community: cm, Seed: *seed, Posts: *posts, Start: start, Duration: *duration},
		simulator.Options{Rate: *rate, Progress: stderr}, em)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "simulate: %d posts in %d messages to %s (%d new, %d already stored)\n",
		sum.Posts, sum.Messages, cm.ID, sum.Stored, sum.Duplicates)
	return nil
}

func configName(path string) string {
	if path == "" {
		return "the built-in communities"
	}
	return path
}
