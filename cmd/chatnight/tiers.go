package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/processor"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/threads"
	"github.com/chatnight/chatnight/web"
)

const tierFlags = flagsConfig | flagsNATS | flagsClickHouse | flagsEmbedded

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("run", "run [flags]", stdout, &o, tierFlags|flagsHTTP|flagsProcessor)
	fs.BoolVar(&o.Simulate, "simulate", false, "run the demo simulator: a chat night for each community, posted live")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return runTiers(ctx, &o, stdout, stderr, tiers{ingest: true, process: true, serve: true, simulate: o.Simulate})
}

func processCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("process", "process [flags]", stdout, &o, tierFlags|flagsProcessor|flagsOps)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return runTiers(ctx, &o, stdout, stderr, tiers{process: true})
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("serve", "serve [flags]", stdout, &o, tierFlags|flagsHTTP)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return runTiers(ctx, &o, stdout, stderr, tiers{serve: true})
}

func ingestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("ingest", "ingest [flags]", stdout, &o, flagsConfig|flagsNATS|flagsEmbedded|flagsOps)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return runTiers(ctx, &o, stdout, stderr, tiers{ingest: true})
}

type tiers struct{ ingest, process, serve, simulate bool }

// runTiers connects what the chosen tiers need and runs them until ctx is done or one
// of them fails; then everything stops and is released in order.
func runTiers(ctx context.Context, o *Options, stdout, stderr io.Writer, t tiers) error {
	log, err := o.logger(stderr)
	if err != nil {
		return err
	}
	cfg, err := o.communities()
	if err != nil {
		return err
	}
	var off map[string]string // sources left out for a missing secret, for the log and /readyz
	srcCfg := cfg
	if t.ingest {
		srcCfg, off = withoutMissingSecrets(cfg, os.Getenv)
		for _, name := range slices.Sorted(maps.Keys(off)) {
			log.Warn("source "+name+": "+off[name], "source", name)
		}
	}
	ln, err := listen(o.HTTPAddr)
	if err != nil {
		return err
	}
	defer ln.Close()
	st := newStack(log)
	st.sourcesOff = off
	defer st.close()
	if err := st.connectNATS(ctx, o, true, "chatnight"); err != nil {
		return err
	}
	if t.process || t.serve {
		if err := st.connectClickHouse(ctx, o); err != nil {
			return err
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	if t.process {
		m, err := processor.NewMetrics(st.reg)
		if err != nil {
			return err
		}
		w, err := st.newWriter()
		if err != nil {
			return err
		}
		p := processor.New(processor.Config{BatchPosts: o.BatchPosts, BatchWait: o.BatchWait}, st.js,
			derive.New(cfg, threads.NewClickHouse(st.ch), time.Now).WithCrossPosts(copies.NewClickHouse(st.ch, cfg.People)), w, m, log.With("tier", "process"))
		g.Go(func() error { return p.Run(ctx) })
		stew := processor.NewSteward(st.js, st.ch, log.With("tier", "process", "stage", "steward"))
		stew.Retention = cfg.DeletedRetention
		stew.Communities = cfg
		g.Go(func() error { return stew.Run(ctx) })
	}
	if t.serve {
		srv, err := web.New(web.Config{Addr: o.HTTPAddr, AllowedOrigins: splitList(o.AllowedOrigins), AllowedHosts: splitList(o.AllowedHosts), DataDir: st.dataDir, SourcesOff: off, Version: version}, web.Deps{
			Communities: cfg, JS: st.js, NC: st.nc, CH: st.ch,
			Gatherer: st.reg, Registerer: st.reg, Log: log.With("tier", "serve"),
			JetStreamHealth: st.jetStreamHealth,
		})
		if err != nil {
			return err
		}
		g.Go(func() error { return srv.Serve(ctx, ln) })
		fmt.Fprintf(stdout, "chatnight is up: open http://%s/\n", ln.Addr())
	} else {
		g.Go(func() error { return st.serveOps(ctx, ln) })
		log.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	}
	metrics, err := ingest.NewMetrics(st.reg)
	if err != nil {
		return err
	}
	if t.ingest {
		sources, err := buildSources(ctx, st, srcCfg, metrics, log)
		if err != nil {
			return err
		}
		for _, src := range sources {
			em := ingest.NewEmitter(st.js, metrics, log.With("source", src.Name()))
			g.Go(func() error { return src.Run(ctx, em) })
		}
		if len(sources) == 0 && !t.simulate {
			log.Info("no live sources configured; add sources to a --config file, run `chatnight import`, or use --simulate")
		}
	}
	if t.simulate {
		em := ingest.NewEmitter(st.js, metrics, log.With("source", "sim"))
		g.Go(func() error { return demo(ctx, cfg, st.js, em, log) })
	}
	if o.ClickHouseDSN == "" && (t.process || t.serve) {
		log.Info("embedded ClickHouse is serving", "http", "http://"+o.ClickHouseHTTPAddr+"/")
	}
	err = g.Wait()
	log.Info("stopped")
	return err
}

// demo posts simulated chat nights for every community, live: an hour-long night at a
// post every two seconds, then a silence longer than the community's session gap, so
// each night is a session of its own, with its own Q1, Q2 ... A restart within the gap
// joins the session of the night it cut short, so that night's numbering goes on.
func demo(ctx context.Context, cfg *community.Config, js jetstream.JetStream, em *ingest.Emitter, log *slog.Logger) error {
	const (
		posts = 1800
		rate  = 0.5 // posts per second: 1800 posts take an hour
	)
	g, ctx := errgroup.WithContext(ctx)
	for i := range cfg.Communities {
		cm := &cfg.Communities[i]
		g.Go(func() error {
			for ctx.Err() == nil {
				start := time.Now().UTC()
				first, err := simulator.NextQuestion(ctx, js, cm.ID, sessions.Gap(cm), start)
				if err != nil {
					log.Warn("cannot tell whether a simulated night is under way; starting at Q1", "community", cm.ID, "err", err)
				}
				n := simulator.Night{Community: cm, Seed: uint64(start.UnixNano()), Posts: posts, Start: start, Duration: time.Hour, FirstQuestion: first}
				log.Info("simulating a chat night", "community", cm.ID, "posts", n.Posts, "for", n.Duration, "first_question", first)
				if _, err := simulator.Publish(ctx, n, simulator.Options{Rate: rate}, em); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				pause := sessions.Gap(cm) + time.Minute
				log.Info("chat night over; the next one starts after a pause", "community", cm.ID, "pause", pause)
				if err := backoff.Sleep(ctx, pause); err != nil {
					return nil
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
