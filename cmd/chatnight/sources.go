package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/archive"
	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/community"
)

// buildSources makes the live sources the communities ask for in their `sources` lists.
func buildSources(ctx context.Context, st *stack, cfg *community.Config, metrics *ingest.Metrics, log *slog.Logger) ([]ingest.Source, error) {
	xComms := community.Following(cfg.Communities, "x")
	if len(xComms)+len(community.Following(cfg.Communities, "mastodon"))+len(community.Following(cfg.Communities, "bluesky")) == 0 {
		return nil, nil
	}
	cursors, err := ingest.OpenCursors(ctx, st.js)
	if err != nil {
		return nil, err
	}
	var all []ingest.Source
	if len(xComms) > 0 {
		client := xapi.ClientConfig{
			BaseURL: cfg.Sources.X.BaseURL, BearerTokenEnv: cfg.Sources.X.BearerTokenEnv,
			Log: log.With("source", "x"), Metrics: metrics,
		}
		var src ingest.Source
		if cfg.Sources.X.Mode == "stream" {
			src, err = xapi.NewStream(xapi.StreamConfig{ClientConfig: client, Communities: xComms, Cursors: cursors, Backfill: true})
		} else {
			src, err = xapi.NewSearch(xapi.SearchConfig{ClientConfig: client, Communities: xComms, Cursors: cursors, PollInterval: cfg.Sources.X.PollInterval})
		}
		if err != nil {
			return nil, fmt.Errorf("x source: %w", err)
		}
		all = append(all, src)
	}
	srcs, err := mastodon.Sources(cfg, os.Getenv, mastodon.Deps{Cursors: cursors, Metrics: metrics, Log: log.With("source", "mastodon")})
	if err != nil {
		return nil, fmt.Errorf("mastodon sources: %w", err)
	}
	all = append(all, srcs...)
	srcs, err = bluesky.Sources(cfg, os.Getenv, bluesky.Deps{Cursors: cursors, Metrics: metrics, Log: log.With("source", "bluesky")})
	if err != nil {
		return nil, fmt.Errorf("bluesky sources: %w", err)
	}
	return append(all, srcs...), nil
}

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	synopsis := "import --community ID --format FORMAT [--match-hashtags] FILE... ('-' reads stdin)"
	fs := newFlagSet("import", synopsis, stderr, &o, flagsConfig|flagsNATS)
	communityID := fs.String("community", "", "community the archive belongs to (required)")
	format := fs.String("format", "", "archive format: "+strings.Join(archive.FormatNames(), ", "))
	match := fs.Bool("match-hashtags", false, "keep only posts that carry one of the community's hashtags")
	batch := fs.Int("batch", archive.DefaultBatchSize, "posts per NATS message")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if *communityID == "" || *format == "" || len(files) == 0 {
		fs.Usage()
		return errUsage
	}
	if _, err := archive.LookupFormat(*format); err != nil {
		return err
	}
	log, cm, err := o.loggerFor(stderr, *communityID)
	if err != nil {
		return err
	}
	st := newStack(log)
	defer st.close()
	if err := st.connectNATS(ctx, &o, false, "chatnight-import"); err != nil {
		return err
	}
	em := ingest.NewEmitter(st.js, nil, log)
	sum, err := archive.Import(ctx, archive.Options{
		Community: cm, Format: *format, MatchHashtags: *match, BatchSize: *batch,
		Progress: stderr, IsTerminal: isTerminal(stderr),
	}, em, files...)
	fmt.Fprintf(stdout, "import: %s\n", sum)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; run the same import again to finish it (what was stored is not stored twice)")
		}
		return err
	}
	return nil
}

// isTerminal reports whether w is a character device, where a progress bar makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
