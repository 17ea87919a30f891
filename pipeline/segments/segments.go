// Package segments assigns stakeholder segments (patient, nurse, health IT, …) to
// accounts from what they say about themselves in their profile bios, by open rules
// anyone can read and change (deploy/segments.yaml). Every assignment carries the rule
// that made it, so a reader can see why an account is called a nurse.
package segments

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

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
	name  string
	label string
	// words matches any keyword or exact word, each alternative in its own capturing
	// group: group i+1 is wordReasons[i]. One regexp per segment scans a bio once.
	words       *regexp.Regexp
	wordReasons []string
	// needles are literal parts of the words (lower case for keywords): a bio that
	// contains none of them cannot match words, which is then not run.
	needles      []string
	exactNeedles []string
	patterns     []rule
	unless       []*regexp.Regexp
}

type rule struct {
	re     *regexp.Regexp
	reason string
}

// notWord is what may stand on either side of a keyword: anything but a letter, a
// digit or '_' of any script (regexp's \b knows ASCII letters only).
const notWord = `[^\p{L}\p{N}_]`

// Default returns the rules of deploy/segments.yaml as built into the binary. Rules
// are never changed once compiled, so they are compiled once and shared.
var Default = sync.OnceValue(func() *Rules {
	r, err := Parse("deploy/segments.yaml", deploy.DefaultSegments)
	if err != nil {
		panic(fmt.Sprintf("built-in segment rules do not parse: %v", err))
	}
	return r
})

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
		// Each word is one group of the segment's regexp, in the order of wordReasons.
		var alts []string
		addWord := func(kind, k, flags string) error {
			body, err := wordBody(k)
			if err != nil {
				return fmt.Errorf("segment %q: %s %q: %w", d.Name, kind, k, err)
			}
			alts = append(alts, "((?"+flags+":"+body+"))") // one capturing group a word
			c.wordReasons = append(c.wordReasons, fmt.Sprintf("bio contains %q", k))
			return nil
		}
		for _, k := range d.Exact {
			if err := addWord("exact", k, ""); err != nil {
				return nil, err
			}
			c.exactNeedles = append(c.exactNeedles, needle(k))
		}
		for _, k := range d.Keywords {
			if err := addWord("keyword", k, "i"); err != nil {
				return nil, err
			}
			c.needles = append(c.needles, strings.ToLower(needle(k)))
		}
		if len(alts) > 0 {
			re, err := wordsRegexp(alts)
			if err != nil {
				return nil, fmt.Errorf("segment %q: %w", d.Name, err)
			}
			c.words = re
		}
		for _, p := range d.Patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("segment %q: pattern %q: %w", d.Name, p, err)
			}
			c.patterns = append(c.patterns, rule{re, fmt.Sprintf("bio matches /%s/", p)})
		}
		for _, p := range d.Unless {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("segment %q: unless %q: %w", d.Name, p, err)
			}
			c.unless = append(c.unless, re)
		}
		if c.words == nil && len(c.patterns) == 0 {
			return nil, fmt.Errorf("segment %q has no keywords, exact words or patterns", d.Name)
		}
		r.segs = append(r.segs, c)
	}
	return r, nil
}

// compiledWords caches wordsRegexp: a community's overrides recompile the base rules,
// and regexps with Unicode classes are slow to build.
var compiledWords sync.Map // expression -> *regexp.Regexp

// wordsRegexp matches any of alts as a whole word or phrase.
func wordsRegexp(alts []string) (*regexp.Regexp, error) {
	expr := `(?:^|` + notWord + `)(?:` + strings.Join(alts, "|") + `)(?:$|` + notWord + `)`
	if re, ok := compiledWords.Load(expr); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(expr)
	if err == nil {
		compiledWords.Store(expr, re)
	}
	return re, err
}

// needle is the first word of a keyword, without a trailing *.
func needle(word string) string {
	w := strings.Fields(strings.TrimSuffix(strings.TrimSpace(word), "*"))
	if len(w) == 0 {
		return ""
	}
	return strings.TrimSuffix(w[0], "*")
}

// wordBody is the expression of one keyword: white space in it matches any white
// space, a trailing * any ending.
func wordBody(word string) (string, error) {
	w := strings.TrimSpace(word)
	prefix := strings.HasSuffix(w, "*")
	w = strings.TrimSpace(strings.TrimSuffix(w, "*"))
	if w == "" {
		return "", fmt.Errorf("empty word")
	}
	parts := strings.Fields(w)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	body := strings.Join(parts, `\s+`)
	if prefix {
		body += `[\p{L}\p{N}]*`
	}
	return body, nil
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
	lowerBio := strings.ToLower(bio)
	var out []Assignment
	for _, c := range r.segs {
		if len(c.patterns) == 0 && !c.mayMatch(bio, lowerBio) {
			continue // blanking out text cannot make words match
		}
		text, lower := bio, lowerBio
		if len(c.unless) > 0 {
			for _, u := range c.unless {
				text = u.ReplaceAllStringFunc(text, blank)
			}
			lower = strings.ToLower(text)
		}
		if reason, ok := c.match(text, lower); ok {
			out = append(out, Assignment{Segment: c.name, Reason: c.name + ": " + reason})
		}
	}
	return out
}

// match returns the rule that matches text: the keyword or exact word found first in
// the text, else the first pattern in the rules' order.
func (c *compiled) match(text, lower string) (string, bool) {
	if c.words != nil && c.mayMatch(text, lower) {
		if m := c.words.FindStringSubmatchIndex(text); m != nil {
			for i := range c.wordReasons {
				if m[2+2*i] >= 0 {
					return c.wordReasons[i], true
				}
			}
		}
	}
	for _, p := range c.patterns {
		if p.re.MatchString(text) {
			return p.reason, true
		}
	}
	return "", false
}

func (c *compiled) mayMatch(text, lower string) bool {
	for _, n := range c.needles {
		if strings.Contains(lower, n) {
			return true
		}
	}
	for _, n := range c.exactNeedles {
		if strings.Contains(text, n) {
			return true
		}
	}
	return false
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
