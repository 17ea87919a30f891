package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/community"
)

// TestExampleConfigRunsWithoutTokens: the example config with no secrets in the
// environment builds the sources that can run and says what it left out and why.
func TestExampleConfigRunsWithoutTokens(t *testing.T) {
	cfg, err := community.Load("../../deploy/communities.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	run, off := withoutMissingSecrets(cfg, noEnv)
	if !strings.Contains(off["x"], "X_BEARER_TOKEN is unset") {
		t.Errorf("x: %q", off["x"])
	}
	if !strings.Contains(off["mastodon https://mstdn.science"], "MSTDN_SCIENCE_TOKEN is unset") {
		t.Errorf("off = %v", off)
	}
	if n := len(community.Following(run.Communities, "x")); n != 0 {
		t.Errorf("%d communities still follow x", n)
	}
	if len(community.Following(cfg.Communities, "x")) == 0 {
		t.Error("the loaded config was changed")
	}
	n := bustest.Start(t)
	st := newStack(newLogger(io.Discard, 0))
	defer st.close()
	ctx := context.Background()
	if err := st.connectNATS(ctx, &Options{NATSURL: n.URL, NATSReplicas: 1}, false, "test"); err != nil {
		t.Fatal(err)
	}
	metrics, err := ingest.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := buildSources(ctx, st, run, metrics, newLogger(io.Discard, 0))
	if err != nil {
		t.Fatalf("sources of the example config without tokens: %v", err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name())
	}
	got := strings.Join(names, " ")
	if !strings.Contains(got, "mastodon") || !strings.Contains(got, "bluesky") || strings.Contains(got, "x-") {
		t.Errorf("sources %q, want mastodon and bluesky without x", got)
	}

	// With the tokens set, nothing is left out.
	all := func(k string) string { return "secret" }
	if _, off := withoutMissingSecrets(cfg, all); len(off) != 0 {
		t.Errorf("with tokens: off = %v", off)
	}
}
