package mastodon

import (
	"fmt"
	"slices"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Deps are what the Mastodon sources share.
type Deps = ingest.Deps

// Sources builds one source per (instance, hashtag) for the communities that follow
// Mastodon (a community with no sources listed follows every network): a Streaming
// source when the instance has an access token, a Poller otherwise. getenv reads the
// variables named by access_token_env (os.Getenv in production).
func Sources(cfg *community.Config, getenv func(string) string, deps Deps) ([]ingest.Source, error) {
	comms := community.Following(cfg.Communities, "mastodon")
	var tags []string
	for _, cm := range comms {
		for _, h := range cm.Hashtags {
			if t := post.NormalizeTag(h); !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	var out []ingest.Source
	for i, inst := range cfg.Sources.Mastodon.Instances {
		token := ""
		if inst.AccessTokenEnv != "" {
			token = getenv(inst.AccessTokenEnv)
			if token == "" {
				return nil, fmt.Errorf("sources.mastodon.instances[%d].access_token_env names %s, which is not set", i, inst.AccessTokenEnv)
			}
		}
		for _, tag := range tags {
			pc := PollerConfig{
				BaseURL: inst.BaseURL, Tag: tag, AccessToken: token, Communities: comms,
				Interval: cfg.Sources.Mastodon.PollInterval,
				Cursors:  deps.Cursors, Metrics: deps.Metrics, Log: deps.Log, HTTPClient: deps.HTTPClient,
			}
			var src ingest.Source
			var err error
			if token != "" {
				src, err = NewStreaming(pc)
			} else {
				src, err = NewPoller(pc)
			}
			if err != nil {
				return nil, fmt.Errorf("sources.mastodon.instances[%d]: %w", i, err)
			}
			out = append(out, src)
		}
	}
	return out, nil
}

var (
	_ ingest.Source = (*Poller)(nil)
	_ ingest.Source = (*Streaming)(nil)
)
