package bluesky

import (
	"fmt"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/community"
)

// Deps are what the Bluesky sources share.
type Deps = ingest.Deps

// Sources builds the Bluesky sources for the communities that follow Bluesky: the
// Jetstream firehose, and the searchPosts backfill when sources.bluesky.identifier is
// set. Handles are resolved at appview_url (DefaultAppViewURL); search logs in at
// pds_url (DefaultPDSURL). getenv reads the variable named by app_password_env
// (os.Getenv in production).
func Sources(cfg *community.Config, getenv func(string) string, deps Deps) ([]ingest.Source, error) {
	comms := community.Following(cfg.Communities, "bluesky")
	if len(comms) == 0 {
		return nil, nil
	}
	bs := cfg.Sources.Bluesky
	profiles := NewProfiles(firstNonEmpty(bs.AppViewURL, DefaultAppViewURL), deps.HTTPClient, deps.Log)
	js, err := NewJetstream(JetstreamConfig{
		URL: bs.JetstreamURL, Communities: comms, Cursors: deps.Cursors, Profiles: profiles,
		Metrics: deps.Metrics, Log: deps.Log,
	})
	if err != nil {
		return nil, err
	}
	out := []ingest.Source{js}
	if bs.Identifier == "" {
		return out, nil
	}
	if bs.AppPasswordEnv == "" {
		return nil, fmt.Errorf("sources.bluesky.identifier is set but app_password_env is not: name the variable that holds the app password")
	}
	password := getenv(bs.AppPasswordEnv)
	if password == "" {
		return nil, fmt.Errorf("sources.bluesky.app_password_env names %s, which is not set", bs.AppPasswordEnv)
	}
	search, err := NewSearch(SearchConfig{
		PDSURL: firstNonEmpty(bs.PDSURL, DefaultPDSURL), Identifier: bs.Identifier, AppPassword: password,
		Communities: comms, Cursors: deps.Cursors, Profiles: profiles,
		Metrics: deps.Metrics, Log: deps.Log, HTTPClient: deps.HTTPClient,
	})
	if err != nil {
		return nil, err
	}
	return append(out, search), nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

var (
	_ ingest.Source = (*Jetstream)(nil)
	_ ingest.Source = (*Search)(nil)
)
