package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
)

// Options are the flags shared by the subcommands. Each subcommand registers the ones
// it uses on its own FlagSet.
type Options struct {
	ConfigPath         string
	DataDir            string
	HTTPAddr           string
	NATSURL            string
	NATSReplicas       int
	ClickHouseDSN      string
	ClickHouseHTTPAddr string
	NATSListen         string
	Simulate           bool
	LogLevel           string
	BatchPosts         int
	BatchWait          time.Duration
	AllowedOrigins     string
	AllowedHosts       string
	EmbeddedCH         embeddedCHFlags // the embedded ClickHouse endpoint's users and limits
}

type flagGroup int

const (
	flagsConfig flagGroup = 1 << iota
	flagsNATS
	flagsClickHouse
	flagsEmbedded
	flagsHTTP
	flagsProcessor
	flagsOps // /metrics, /healthz and /readyz of a tier without the web UI
)

func newFlagSet(name, synopsis string, stderr io.Writer, o *Options, groups flagGroup) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: chatnight %s\n\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEvery flag can be set with CHATNIGHT_<FLAG>, e.g. --nats-url as CHATNIGHT_NATS_URL.\n")
	}
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	if groups&flagsConfig != 0 {
		fs.StringVar(&o.ConfigPath, "config", "", "communities YAML file (default: the built-in #HCLDR and #HITsm)")
	}
	if groups&flagsNATS != 0 {
		fs.StringVar(&o.NATSURL, "nats-url", "", "NATS server URL (empty: start an embedded server)")
		fs.IntVar(&o.NATSReplicas, "nats-replicas", 1, "replicas of the JetStream streams: 1 for a single server, 3 on a NATS cluster")
	}
	if groups&flagsClickHouse != 0 {
		fs.StringVar(&o.ClickHouseDSN, "clickhouse-dsn", "", "ClickHouse DSN: clickhouse://host:9000/db (native) or http://host:8123/db (HTTP); empty: embedded engine")
	}
	if groups&flagsEmbedded != 0 {
		fs.StringVar(&o.DataDir, "data-dir", "./data", "where embedded NATS and ClickHouse keep their data")
		fs.StringVar(&o.NATSListen, "nats-listen", "127.0.0.1:4222", "where the embedded NATS server listens")
		fs.StringVar(&o.ClickHouseHTTPAddr, "clickhouse-http-addr", "127.0.0.1:8123", "where the embedded ClickHouse HTTP endpoint listens")
		o.EmbeddedCH.register(fs)
	}
	if groups&flagsHTTP != 0 {
		fs.StringVar(&o.HTTPAddr, "http-addr", "127.0.0.1:8080", "where the web viewer, API and /metrics listen")
		fs.StringVar(&o.AllowedOrigins, "allowed-origins", "", "comma-separated extra origins allowed to open the websocket")
		fs.StringVar(&o.AllowedHosts, "allowed-hosts", "", "comma-separated host names the viewer answers to besides localhost, 127.0.0.1 and the listen host (checked on loopback, or beyond it once set)")
	}
	if groups&flagsOps != 0 {
		fs.StringVar(&o.HTTPAddr, "http-addr", "127.0.0.1:9464", "where /metrics, /healthz and /readyz listen")
	}
	if groups&flagsProcessor != 0 {
		fs.IntVar(&o.BatchPosts, "batch-posts", 5000, "write a batch when it holds this many posts")
		fs.DurationVar(&o.BatchWait, "batch-wait", 200*time.Millisecond, "or when its oldest post waited this long")
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command line from its
// CHATNIGHT_* environment variable.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := EnvName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment variable %s: %w", env, e)
			}
		}
	})
	return err
}

// EnvName is the environment variable that mirrors a flag.
func EnvName(flagName string) string {
	return "CHATNIGHT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (o *Options) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)
	}
	return newLogger(stderr, level), nil
}

// community returns the configured community with id, for the subcommands that work
// on one.
// loggerFor is how a subcommand about one community starts: its logger, and the
// community with that id.
func (o *Options) loggerFor(stderr io.Writer, id string) (*slog.Logger, *community.Community, error) {
	log, err := o.logger(stderr)
	if err != nil {
		return nil, nil, err
	}
	cm, err := o.community(id)
	if err != nil {
		return nil, nil, err
	}
	return log, cm, nil
}

func (o *Options) community(id string) (*community.Community, error) {
	cfg, err := o.communities()
	if err != nil {
		return nil, err
	}
	cm, ok := cfg.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("community %q is not in %s (known: %v); add it to a --config file", id, configName(cfg.Path), cfg.IDs())
	}
	return cm, nil
}

func (o *Options) communities() (*community.Config, error) {
	if o.ConfigPath == "" {
		return community.Defaults(), nil
	}
	return community.Load(o.ConfigPath)
}
