// Package community holds the communities configuration: which hashtag chats chatnight
// follows, when they meet, who hosts them and which sources feed them.
package community

import (
	"slices"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/segments"
)

// Config is the whole communities file.
type Config struct {
	Communities []Community `yaml:"communities"`
	Sources     Sources     `yaml:"sources"`
	// People links accounts the evidence cannot (see package people).
	People []people.Declared `yaml:"people"`
	// SegmentRules names a segment rules file replacing the built-in
	// deploy/segments.yaml, relative to this file.
	SegmentRules string `yaml:"segment_rules"`
	// DeletedRetention is how long the rows of posts deleted at their source stay on
	// disk (already hidden everywhere) before they are erased; default 24h.
	DeletedRetention time.Duration `yaml:"deleted_retention"`
	// Path is the file it was read from ("" for the built-in defaults).
	Path string `yaml:"-"`

	rules *segments.Rules // the base segment rules (after Load)
}

// Community is one hashtag chat.
type Community struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Hashtags []string `yaml:"hashtags"` // first is the main tag; the rest are aliases
	Schedule []Slot   `yaml:"schedule"`
	// Hosts are moderator handles per network ("x", "mastodon", "bluesky", "sim").
	Hosts map[string][]string `yaml:"hosts"`
	// Sources lists the networks to follow ("x", "mastodon", "bluesky").
	Sources []string `yaml:"sources"`
	// SessionGap splits unscheduled activity into detected sessions: a silence at
	// least this long ends a session.
	SessionGap time.Duration `yaml:"session_gap"`
	// WaitingAfter is how long a non-host post goes without a reply before the host
	// view lists it as waiting; default DefaultWaitingAfter.
	WaitingAfter time.Duration `yaml:"waiting_after"`
	// WelcomeWindow is how soon a newcomer's first post must get a reply from someone
	// else to count as welcomed; default DefaultWelcomeWindow.
	WelcomeWindow time.Duration `yaml:"welcome_window"`
	// Segments override the segment rules for this community: a segment of the same
	// name replaces the base rules' (disabled: true drops it), a new one is added.
	Segments []segments.Segment `yaml:"segments"`

	rules *segments.Rules // the community's segment rules (after Load)
	// Consent is "" (default: accounts with Mastodon noindex or the Bluesky
	// !no-unauthenticated self-label are treated as opted out) or "strict" (Mastodon
	// accounts must also be indexable: true).
	Consent string `yaml:"consent"`
}

// ConsentStrict is the Consent value that also requires Mastodon indexable: true.
const ConsentStrict = "strict"

// DefaultDeletedRetention is DeletedRetention when the file does not set it.
const DefaultDeletedRetention = 24 * time.Hour

// Slot is one weekly meeting time.
type Slot struct {
	Weekday  string        `yaml:"weekday"`  // "tuesday"
	Start    string        `yaml:"start"`    // local "20:30"
	Timezone string        `yaml:"timezone"` // IANA, e.g. "America/New_York"
	Duration time.Duration `yaml:"duration"` // "60m"

	weekday  time.Weekday
	hour     int
	minute   int
	location *time.Location
}

// SegmentRules are the segment rules of the community: the base rules with its
// overrides. A community built by hand (not loaded) gets the built-in rules.
func (c *Community) SegmentRules() *segments.Rules {
	if c.rules == nil {
		if r, err := segments.Default().With(c.Segments); err == nil {
			c.rules = r
		} else {
			c.rules = segments.Default()
		}
	}
	return c.rules
}

// BaseSegmentRules are the rules communities start from (the built-in ones unless
// segment_rules names a file).
func (c *Config) BaseSegmentRules() *segments.Rules {
	if c.rules == nil {
		return segments.Default()
	}
	return c.rules
}

// DefaultSessionGap is used when a community does not set session_gap.
const DefaultSessionGap = 30 * time.Minute

// Defaults of the host view and the welcome analytics.
const (
	DefaultWaitingAfter  = 3 * time.Minute
	DefaultWelcomeWindow = 10 * time.Minute
)

// Lookup returns the community with id.
func (c *Config) Lookup(id string) (*Community, bool) {
	for i := range c.Communities {
		if c.Communities[i].ID == id {
			return &c.Communities[i], true
		}
	}
	return nil, false
}

// IDs lists the community ids in file order.
func (c *Config) IDs() []string {
	ids := make([]string, len(c.Communities))
	for i, cm := range c.Communities {
		ids[i] = cm.ID
	}
	return ids
}

// MatchesTags reports whether any of tags (already folded with post.NormalizeTag) is
// one of the community's hashtags.
func (c *Community) MatchesTags(tags []string) bool {
	for _, t := range tags {
		for _, h := range c.Hashtags {
			if t == post.NormalizeTag(h) {
				return true
			}
		}
	}
	return false
}

// IsHost reports whether account (its handle, compared case-insensitively, without a
// leading "@") hosts the community on network.
func (c *Community) IsHost(network, handle string) bool {
	handle = strings.TrimPrefix(handle, "@")
	for _, h := range c.Hosts[network] {
		if strings.EqualFold(strings.TrimPrefix(h, "@"), handle) {
			return true
		}
	}
	return false
}

// HasHosts reports whether any host is configured; without hosts anyone may ask questions.
func (c *Community) HasHosts() bool {
	for _, hs := range c.Hosts {
		if len(hs) > 0 {
			return true
		}
	}
	return false
}

// Day, Clock and Location return the parsed slot (valid after Load).
func (s *Slot) Day() time.Weekday         { return s.weekday }
func (s *Slot) Clock() (hour, minute int) { return s.hour, s.minute }
func (s *Slot) Location() *time.Location  { return s.location }

// StartOnOrBefore returns the latest occurrence of the slot that starts at or before t.
// It is computed in the slot's own time zone, so 20:30 stays 20:30 across DST changes.
func (s *Slot) StartOnOrBefore(t time.Time) time.Time {
	local := t.In(s.location)
	day := time.Date(local.Year(), local.Month(), local.Day(), s.hour, s.minute, 0, 0, s.location)
	back := (int(local.Weekday()) - int(s.weekday) + 7) % 7
	start := day.AddDate(0, 0, -back)
	if start.After(t) {
		start = start.AddDate(0, 0, -7)
	}
	return start
}

// NextStartAfter returns the first occurrence of the slot that starts after t.
func (s *Slot) NextStartAfter(t time.Time) time.Time {
	start := s.StartOnOrBefore(t)
	for !start.After(t) {
		start = addWeek(start, s)
	}
	return start
}

func addWeek(start time.Time, s *Slot) time.Time {
	l := start.In(s.location)
	return time.Date(l.Year(), l.Month(), l.Day()+7, s.hour, s.minute, 0, 0, s.location)
}

// Follows reports whether the community takes live posts from network ("x",
// "mastodon", "bluesky"): only networks listed in its sources are contacted; a
// community without sources is fed by imports and the simulator alone.
func (c *Community) Follows(network string) bool { return slices.Contains(c.Sources, network) }

// Following returns the communities that follow network.
func Following(comms []Community, network string) []Community {
	var out []Community
	for _, cm := range comms {
		if cm.Follows(network) {
			out = append(out, cm)
		}
	}
	return out
}

// StrictConsent lists the communities with consent: strict.
func (c *Config) StrictConsent() []string {
	var out []string
	for _, cm := range c.Communities {
		if cm.Consent == ConsentStrict {
			out = append(out, cm.ID)
		}
	}
	return out
}
