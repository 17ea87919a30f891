// Package segments assigns stakeholder segments (patient, nurse, health IT, …) to
// accounts from what they say about themselves in their profile bios, by open rules
// anyone can read and change (deploy/segments.yaml). Every assignment carries the rule
// that made it, so a reader can see why an account is called a nurse.
package segments

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/chatnight/chatnight/deploy"
)

// Segment is one segment's rules as written in the rules file (and in a community's
// overrides).
type Segment struct {
	Name  string `yaml:"name"`
	Label string `yaml:"label,omitempty"`
	// Keywords are whole words or phrases in any case; a trailing * matches any ending.
	Keywords []string `yaml:"keywords,omitempty"`
	// Exact are whole words in this case only (abbreviations: RN, MD).
	Exact []string `yaml:"exact,omitempty"`
	// Patterns are Go regular expressions.
	Patterns []string `yaml:"patterns,omitempty"`
	// Unless are Go regular expressions blanked out of the bio before this segment's
	// rules are tried ("not a doctor").
	Unless []string `yaml:"unless,omitempty"`
	// Disabled, in a community's overrides, drops a segment of the base rules.
	Disabled bool `yaml:"disabled,omitempty"`
}

// File is a rules file.
type File struct {
	Segments []Segment `yaml:"segments"`
}

// Assignment is a segment given to an account, and why.
type Assignment struct {
	Segment string `json:"segment"`
	Reason  string `json:"reason"` // e.g. `nurse: bio contains "RN"`
}

// Rules are compiled segment rules. The zero value assigns nothing.
type Rules struct {
	defs []Segment // as written, in order, for With
	segs []compiled
}

type compiled struct {
	name   string
	label  string
	rules  []rule
	unless []*regexp.Regexp
}

type rule struct {
	re     *regexp.Regexp
	reason string
}

// notWord is what may stand on either side of a keyword: anything but a letter, a
// digit or '_' of any script (regexp's \b knows ASCII letters only).
const notWord = `[^\p{L}\p{N}_]`

// Default returns the rules of deploy/segments.yaml as built into the binary.
func Default() *Rules {
	r, err := Parse("deploy/segments.yaml", deploy.DefaultSegments)
	if err != nil {
		panic(fmt.Sprintf("built-in segment rules do not parse: %v", err))
	}
	return r
}

// Parse reads a rules file; errors name the file and the segment at fault.
func Parse(name string, data []byte) (*Rules, error) {
	var f File
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.Join(strings.Fields(yaml.FormatError(err, false, false)), " "))
	}
	r, err := compile(f.Segments)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// With returns r with overrides applied: a segment of the same name replaces r's
// (Disabled drops it), a new name adds a custom segment after r's.
func (r *Rules) With(overrides []Segment) (*Rules, error) {
	if len(overrides) == 0 {
		return r, nil
	}
	var defs []Segment
	if r != nil {
		defs = append(defs, r.defs...)
	}
	for _, o := range overrides {
		i := indexOf(defs, o.Name)
		switch {
		case o.Disabled && i >= 0:
			defs = append(defs[:i], defs[i+1:]...)
		case o.Disabled:
			return nil, fmt.Errorf("segment %q: disabled, but there is no such segment to disable", o.Name)
		case i >= 0:
			defs[i] = o
		default:
			defs = append(defs, o)
		}
	}
	return compile(defs)
}

func indexOf(defs []Segment, name string) int {
	for i, d := range defs {
		if d.Name == name {
			return i
		}
	}
	return -1
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Check reports whether segs are valid rules (the communities file checks its
// overrides with it).
func Check(segs []Segment) error {
	_, err := compile(segs)
	return err
}

func compile(defs []Segment) (*Rules, error) {
	r := &Rules{defs: defs}
	seen := map[string]bool{}
	for _, d := range defs {
		if !validName.MatchString(d.Name) {
			return nil, fmt.Errorf("segment name %q: use lower case letters, digits and _ (at most 40)", d.Name)
		}
		if d.Disabled {
			return nil, fmt.Errorf("segment %q: disabled is only for a community's overrides", d.Name)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("segment %q is defined twice", d.Name)
		}
		seen[d.Name] = true
		c := compiled{name: d.Name, label: d.Label}
		if c.label == "" {
			c.label = d.Name
		}
		for _, k := range d.Exact {
			re, err := wordRegexp(k, false)
			if err != nil {
				return nil, fmt.Errorf("segment %q: exact %q: %w", d.Name, k, err)
			}
			c.rules = append(c.rules, rule{re, fmt.Sprintf("bio contains %q", k)})
		}
		for _, k := range d.Keywords {
			re, err := wordRegexp(k, true)
			if err != nil {
				return nil, fmt.Errorf("segment %q: keyword %q: %w", d.Name, k, err)
			}
			c.rules = append(c.rules, rule{re, fmt.Sprintf("bio contains %q", k)})
		}
		for _, p := range d.Patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("segment %q: pattern %q: %w", d.Name, p, err)
			}
			c.rules = append(c.rules, rule{re, fmt.Sprintf("bio matches /%s/", p)})
		}
		for _, p := range d.Unless {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("segment %q: unless %q: %w", d.Name, p, err)
			}
			c.unless = append(c.unless, re)
		}
		if len(c.rules) == 0 {
			return nil, fmt.Errorf("segment %q has no keywords, exact words or patterns", d.Name)
		}
		r.segs = append(r.segs, c)
	}
	return r, nil
}

// wordRegexp matches word as a whole word or phrase: white space in it matches any
// white space, a trailing * any ending.
func wordRegexp(word string, foldCase bool) (*regexp.Regexp, error) {
	w := strings.TrimSpace(word)
	prefix := strings.HasSuffix(w, "*")
	w = strings.TrimSpace(strings.TrimSuffix(w, "*"))
	if w == "" {
		return nil, fmt.Errorf("empty word")
	}
	parts := strings.Fields(w)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	body := strings.Join(parts, `\s+`)
	if prefix {
		body += `[\p{L}\p{N}]*`
	}
	flags := ""
	if foldCase {
		flags = "(?i)"
	}
	return regexp.Compile(flags + `(?:^|` + notWord + `)` + body + `(?:$|` + notWord + `)`)
}

// maxBio bounds the text the rules read: bios are short (X 160 characters, Mastodon
// 500, Bluesky 256); anything longer is cut rather than matched at length.
const maxBio = 2000

// Assign returns the segments bio gets, each with the first rule that matched, in the
// rules' order. An empty bio gets none.
func (r *Rules) Assign(bio string) []Assignment {
	if r == nil || strings.TrimSpace(bio) == "" {
		return nil
	}
	if len(bio) > maxBio {
		bio = strings.ToValidUTF8(bio[:maxBio], "")
	}
	var out []Assignment
	for _, c := range r.segs {
		text := bio
		for _, u := range c.unless {
			text = u.ReplaceAllStringFunc(text, blank)
		}
		for _, ru := range c.rules {
			if ru.re.MatchString(text) {
				out = append(out, Assignment{Segment: c.name, Reason: c.name + ": " + ru.reason})
				break
			}
		}
	}
	return out
}

// blank keeps the length and the word boundaries around a removed match.
func blank(s string) string { return " " + strings.Repeat("_", max(len(s)-2, 0)) + " " }

// Names lists the segments in the rules' order.
func (r *Rules) Names() []string {
	if r == nil {
		return nil
	}
	out := make([]string, len(r.segs))
	for i, c := range r.segs {
		out[i] = c.name
	}
	return out
}

// Label is the display name of segment (its name when it has none or is unknown).
func (r *Rules) Label(segment string) string {
	if r != nil {
		for _, c := range r.segs {
			if c.name == segment {
				return c.label
			}
		}
	}
	return segment
}
