package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/archive"
	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/community"
)

// withoutMissingSecrets returns a copy of cfg that leaves out what needs a secret
// whose environment variable is unset, and says what was left out, by source: X without
// its bearer token is not started, a Mastodon instance without its access token is
// polled instead of streamed, Bluesky without its app password does not backfill.
// The rest of the sources run: the example config works with no tokens at all.
func withoutMissingSecrets(cfg *community.Config, getenv func(string) string) (*community.Config, map[string]string) {
	off := map[string]string{}
	out := *cfg
	unset := func(env string) bool { return env != "" && strings.TrimSpace(getenv(env)) == "" }
	if len(community.Following(cfg.Communities, "x")) > 0 && (cfg.Sources.X.BearerTokenEnv == "" || unset(cfg.Sources.X.BearerTokenEnv)) {
		env := cfg.Sources.X.BearerTokenEnv
		if env == "" {
			env = "sources.x.bearer_token_env"
		}
		off["x"] = fmt.Sprintf("not started: %s is unset; export an X API bearer token in it to follow X", env)
		out.Communities = nil
		for _, cm := range cfg.Communities {
			cm.Sources = slices.DeleteFunc(slices.Clone(cm.Sources), func(s string) bool { return s == "x" })
			out.Communities = append(out.Communities, cm)
		}
	}
	out.Sources.Mastodon.Instances = slices.Clone(cfg.Sources.Mastodon.Instances)
	for i, inst := range out.Sources.Mastodon.Instances {
		if unset(inst.AccessTokenEnv) {
			off["mastodon "+inst.BaseURL] = fmt.Sprintf("polling instead of streaming: %s is unset", inst.AccessTokenEnv)
			out.Sources.Mastodon.Instances[i].AccessTokenEnv = ""
		}
	}
	if bs := cfg.Sources.Bluesky; bs.Identifier != "" && (bs.AppPasswordEnv == "" || unset(bs.AppPasswordEnv)) {
		off["bluesky search"] = fmt.Sprintf("no searchPosts backfill: the app password of %s is unset (sources.bluesky.app_password_env)", bs.Identifier)
		out.Sources.Bluesky.Identifier, out.Sources.Bluesky.AppPasswordEnv = "", ""
	}
	return &out, off
}

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
	memory, err := bluesky.OpenMemory(ctx, st.js)
	if err != nil {
		return nil, err
	}
	srcs, err = bluesky.Sources(cfg, os.Getenv, bluesky.Deps{Cursors: cursors, Metrics: metrics, Log: log.With("source", "bluesky")}, memory)
	if err != nil {
		return nil, fmt.Errorf("bluesky sources: %w", err)
	}
	return append(all, srcs...), nil
}

// importMemoryLimit is the import's soft heap limit (runtime/debug.SetMemoryLimit).
const importMemoryLimit = 120 << 20

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	synopsis := "import --community ID --format FORMAT [--match-hashtags] FILE... ('-' reads stdin)"
	fs := newFlagSet("import", synopsis, stdout, &o, flagsConfig|flagsNATS)
	communityID := fs.String("community", "", "community the archive belongs to (required)")
	format := fs.String("format", "", "archive format: "+strings.Join(archive.FormatNames(), ", "))
	match := fs.Bool("match-hashtags", false, "keep only posts that carry one of the community's hashtags")
	batch := fs.Int("batch", archive.DefaultBatchSize, "posts per NATS message")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	switch {
	case *communityID == "":
		return usagef(fs, "--community is required: the community the archive belongs to")
	case *format == "":
		return usagef(fs, "--format is required: one of %s", strings.Join(archive.FormatNames(), ", "))
	case len(files) == 0:
		return usagef(fs, "no FILE given: name the archive files, or - for standard input")
	}
	if _, err := archive.LookupFormat(*format); err != nil {
		return usagef(fs, "--format: %v", err)
	}
	log, cm, err := o.loggerFor(stderr, *communityID)
	if err != nil {
		return err
	}
	// The import streams; what it holds (the ids taken, a Mastodon file's index) is
	// small, so a soft limit makes the collector keep the heap near it rather than let
	// it double with every cycle. GOMEMLIMIT overrides it.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(importMemoryLimit)
	}
	// A file that cannot be opened stops the import before anything is published.
	for _, f := range files {
		if f == "-" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	st := newStack(log)
	defer st.close()
	if err := st.connectNATS(ctx, &o, false, "chatnight-import"); err != nil {
		return err
	}
	em := ingest.NewEmitter(st.js, nil, log)
	opts := archive.Options{
		Community: cm, Format: *format, MatchHashtags: *match, BatchSize: *batch,
		Progress: stderr, IsTerminal: isTerminal(stderr),
	}
	if *format == "jetstream" {
		// Handles learnt from the capture's identity events go to the cache the live
		// Bluesky sources use, and authors the cache knows get their handle.
		memory, err := bluesky.OpenMemory(ctx, st.js)
		if err != nil {
			return err
		}
		profiles := bluesky.NewProfiles("", nil, log)
		profiles.Memory = memory
		opts.Enrich = profiles.Enrich
	}
	sum, err := archive.Import(ctx, opts, em, files...)
	// The summary once, on stdout; errors once, through Main on stderr.
	if sum.Read > 0 || err == nil {
		fmt.Fprintf(stdout, "import: %s\n", sum)
	}
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
