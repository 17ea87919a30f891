package bluesky

import (
	"strings"
	"testing"

	"github.com/chatnight/chatnight/pipeline/community"
)

func TestSources(t *testing.T) {
	cfg := &community.Config{
		Communities: []community.Community{
			{ID: "hcldr", Hashtags: []string{"hcldr"}, Sources: []string{"bluesky"}},
			{ID: "xonly", Hashtags: []string{"xonly"}, Sources: []string{"x"}},
		},
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	names := func(cfg *community.Config) ([]string, error) {
		srcs, err := Sources(cfg, getenv, Deps{Cursors: &cursorStub}, nil)
		var out []string
		for _, s := range srcs {
			out = append(out, s.Name())
		}
		return out, err
	}
	got, err := names(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "firehose only", got, []string{"bluesky:jetstream"})

	cfg.Sources.Bluesky = community.BlueskySource{Identifier: "bot.bsky.social", AppPasswordEnv: "BSKY_APP_PASSWORD"}
	if _, err := names(cfg); err == nil || !strings.Contains(err.Error(), "BSKY_APP_PASSWORD") {
		t.Errorf("unset password variable: %v", err)
	}
	env["BSKY_APP_PASSWORD"] = "secret-app-password"
	got, err = names(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "with search", got, []string{"bluesky:jetstream", "bluesky:search"})

	cfg.Communities = cfg.Communities[1:]
	got, _ = names(cfg)
	eq(t, "nobody follows bluesky", len(got), 0)
}
