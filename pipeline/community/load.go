package community

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/segments"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// Defaults returns the built-in communities (#HCLDR and #HITsm) used when no --config
// is given.
func Defaults() *Config {
	cfg, err := Parse("built-in defaults", defaultsYAML)
	if err != nil {
		panic(fmt.Sprintf("built-in communities do not parse: %v", err))
	}
	cfg.Path = ""
	return cfg
}

// Load reads and checks a communities file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read communities config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and checks a communities file. Errors name the file, the line and the
// field at fault.
func Parse(name string, data []byte) (*Config, error) {
	cfg := &Config{Path: name}
	if err := yaml.UnmarshalWithOptions(data, cfg, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", name, oneLine(yaml.FormatError(err, false, false)))
	}
	if err := cfg.check(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s:%d: %s: %s", name, lineOf(data, fe.path), fe.field(), fe.msg)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// fieldError is a validation failure at a YAML path such as $.communities[0].schedule[1].timezone.
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

func (e *fieldError) field() string { return strings.TrimPrefix(e.path, "$.") }

func errAt(path, format string, args ...any) error {
	return &fieldError{path: path, msg: fmt.Sprintf(format, args...)}
}

// lineOf finds the line of the node at path, or of its nearest existing parent.
func lineOf(data []byte, path string) int {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0
	}
	for p := path; p != "$" && p != ""; {
		yp, err := yaml.PathString(p)
		if err == nil {
			if node, err := yp.FilterFile(file); err == nil && node != nil {
				return node.GetToken().Position.Line
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

var networks = map[string]bool{"x": true, "mastodon": true, "bluesky": true, "sim": true}

func (c *Config) check() error {
	if len(c.Communities) == 0 {
		return errAt("$.communities", "at least one community is needed")
	}
	c.rules = segments.Default()
	if c.SegmentRules != "" {
		path := c.SegmentRules
		if !filepath.IsAbs(path) && c.Path != "" {
			path = filepath.Join(filepath.Dir(c.Path), path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return errAt("$.segment_rules", "read segment rules: %v", err)
		}
		if c.rules, err = segments.Parse(path, data); err != nil {
			return errAt("$.segment_rules", "%v", err)
		}
	}
	for i, p := range c.People {
		at := fmt.Sprintf("$.people[%d]", i)
		if strings.TrimSpace(p.Name) == "" {
			return errAt(at+".name", "a person needs a name")
		}
		if len(p.Accounts) < 2 {
			return errAt(at+".accounts", "person %q: list at least two accounts to link", p.Name)
		}
		for j, a := range p.Accounts {
			network, rest, ok := strings.Cut(a, ":")
			if !ok || rest == "" || !networks[network] {
				return errAt(fmt.Sprintf("%s.accounts[%d]", at, j), "account %q: write network:handle (x:colin_hung, mastodon:colin@mastodon.social, bluesky:colin.bsky.social) or an account id", a)
			}
		}
	}
	seen := map[string]bool{}
	for i := range c.Communities {
		cm := &c.Communities[i]
		at := fmt.Sprintf("$.communities[%d]", i)
		if err := post.ValidCommunity(cm.ID); err != nil {
			return errAt(at+".id", "%v", err)
		}
		if seen[cm.ID] {
			return errAt(at+".id", "community %q is defined twice", cm.ID)
		}
		seen[cm.ID] = true
		if cm.Name == "" {
			cm.Name = "#" + cm.ID
		}
		if len(cm.Hashtags) == 0 {
			return errAt(at+".hashtags", "community %q needs at least one hashtag", cm.ID)
		}
		for j, h := range cm.Hashtags {
			if strings.TrimLeft(strings.TrimSpace(h), "#＃") == "" {
				return errAt(fmt.Sprintf("%s.hashtags[%d]", at, j), "empty hashtag")
			}
		}
		if cm.SessionGap == 0 {
			cm.SessionGap = DefaultSessionGap
		}
		if cm.SessionGap < 0 {
			return errAt(at+".session_gap", "must be positive")
		}
		for _, d := range []struct {
			v    *time.Duration
			def  time.Duration
			name string
		}{{&cm.WaitingAfter, DefaultWaitingAfter, "waiting_after"}, {&cm.WelcomeWindow, DefaultWelcomeWindow, "welcome_window"}} {
			if *d.v == 0 {
				*d.v = d.def
			}
			if *d.v < 0 || *d.v > 24*time.Hour {
				return errAt(at+"."+d.name, "%v: use a length such as 3m, at most 24h", *d.v)
			}
		}
		for j := range cm.Schedule {
			if err := cm.Schedule[j].parse(fmt.Sprintf("%s.schedule[%d]", at, j)); err != nil {
				return err
			}
		}
		if cm.Consent != "" && cm.Consent != ConsentStrict {
			return errAt(at+".consent", "consent %q: leave it out or use strict", cm.Consent)
		}
		for network := range cm.Hosts {
			if !networks[network] {
				return errAt(at+".hosts."+network, "unknown network %q (use x, mastodon, bluesky or sim)", network)
			}
		}
		rules, err := c.rules.With(cm.Segments)
		if err != nil {
			return errAt(at+".segments", "%v", err)
		}
		cm.rules = rules
		for j, s := range cm.Sources {
			if !networks[s] || s == "sim" {
				return errAt(fmt.Sprintf("%s.sources[%d]", at, j), "unknown source %q (use x, mastodon or bluesky)", s)
			}
		}
	}
	if c.DeletedRetention == 0 {
		c.DeletedRetention = DefaultDeletedRetention
	}
	if c.DeletedRetention < 0 {
		return errAt("$.deleted_retention", "must be positive (such as 24h)")
	}
	if m := c.Sources.X.Mode; m != "" && m != "search" && m != "stream" {
		return errAt("$.sources.x.mode", "mode %q: use search or stream", m)
	}
	return nil
}

func (s *Slot) parse(at string) error {
	wd, ok := weekdays[strings.ToLower(strings.TrimSpace(s.Weekday))]
	if !ok {
		return errAt(at+".weekday", "weekday %q: use monday..sunday", s.Weekday)
	}
	clock, err := time.Parse("15:04", strings.TrimSpace(s.Start))
	if err != nil {
		return errAt(at+".start", "start %q: use 24-hour HH:MM local time", s.Start)
	}
	if s.Timezone == "" {
		return errAt(at+".timezone", "timezone is required (an IANA name such as America/New_York)")
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return errAt(at+".timezone", "unknown time zone %q (use an IANA name such as America/New_York)", s.Timezone)
	}
	if s.Duration <= 0 || s.Duration > 24*time.Hour {
		return errAt(at+".duration", "duration %v: use a length such as 60m, at most 24h", s.Duration)
	}
	s.weekday, s.hour, s.minute, s.location = wd, clock.Hour(), clock.Minute(), loc
	return nil
}
