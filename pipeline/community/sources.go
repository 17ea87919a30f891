package community

import "time"

// Sources holds the connection settings of each network, shared by all communities.
// Secrets are never in the file: only the names of the environment variables that hold them.
type Sources struct {
	X        XSource        `yaml:"x"`
	Mastodon MastodonSource `yaml:"mastodon"`
	Bluesky  BlueskySource  `yaml:"bluesky"`
}

// XSource configures the X API v2 ingestor.
type XSource struct {
	BaseURL        string        `yaml:"base_url"`         // default https://api.x.com
	BearerTokenEnv string        `yaml:"bearer_token_env"` // env var holding the app bearer token
	Mode           string        `yaml:"mode"`             // "search" (default) or "stream"
	PollInterval   time.Duration `yaml:"poll_interval"`    // recent-search polling period
}

// MastodonSource configures the Mastodon ingestor; each instance is polled separately and
// statuses seen through several instances collapse into one post by their uri.
type MastodonSource struct {
	Instances    []MastodonInstance `yaml:"instances"`
	PollInterval time.Duration      `yaml:"poll_interval"`
}

// MastodonInstance is one server to read hashtag timelines from.
type MastodonInstance struct {
	BaseURL        string `yaml:"base_url"`
	AccessTokenEnv string `yaml:"access_token_env"` // set to use the streaming API
}

// BlueskySource configures the Bluesky ingestor.
type BlueskySource struct {
	JetstreamURL   string `yaml:"jetstream_url"`    // default wss://jetstream2.us-east.bsky.network
	AppViewURL     string `yaml:"appview_url"`      // handle resolution (getProfile); default https://public.api.bsky.app
	PDSURL         string `yaml:"pds_url"`          // where identifier logs in for searchPosts; default https://bsky.social
	Identifier     string `yaml:"identifier"`       // account handle for searchPosts
	AppPasswordEnv string `yaml:"app_password_env"` // env var holding its app password
}
