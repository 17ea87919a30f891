package xapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/chatnight/chatnight/pipeline/post"
)

// idString is an id the API sends as a JSON string, but which some tools write as a
// number (twarc's matching_rules, v1.1 "id"). Numbers keep all their digits.
type idString string

func (s *idString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
		return nil
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = idString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %s: %w", b, err)
	}
	*s = idString(n.String())
	return nil
}

// validID reports whether id is a tweet or user id: decimal digits only. A spreadsheet
// that rounded an id to "1.25E+18" gives an id that names some other tweet, so it is
// refused rather than guessed.
func validID(id string) bool {
	if id == "" || len(id) > 20 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

// PostID is the canonical id of tweet id ("x:<id>").
func PostID(tweetID string) string { return "x:" + tweetID }

// AccountID is the canonical id of user id ("x:<id>").
func AccountID(userID string) string { return "x:" + userID }

// StatusURL links to a tweet; without the author's username it uses the form X
// redirects from.
func StatusURL(username, tweetID string) string {
	if username == "" {
		return "https://x.com/i/web/status/" + tweetID
	}
	return "https://x.com/" + username + "/status/" + tweetID
}

// X escapes exactly these three characters in tweet text, in both API versions.
var textUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// PlainText undoes X's HTML escaping of tweet text.
func PlainText(s string) string { return textUnescaper.Replace(s) }

// tagSet collects folded hashtags in first-seen order without repeats.
type tagSet struct {
	tags []string
	seen map[string]bool
}

func (s *tagSet) add(tag string) bool {
	if len(s.tags) > post.MaxHashtags {
		return false // refused by validation anyway: see urlSet
	}
	t := post.NormalizeTag(tag)
	if t == "" || s.seen[t] {
		return true
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[t] = true
	s.tags = append(s.tags, t)
	return true
}

// appendUnique appends v to list unless it is empty or already there. For short lists
// only (search terms, rule tags): entities use urlSet and mentionSet, which stay linear.
func appendUnique(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// A hostile record can carry 100k entities; scanning each against the list kept so far
// took half a minute. The sets below look up in a map, and stop collecting one past the
// post's limit: such a post is refused by validation (too many entities), so the rest need
// not be scanned.

// urlSet collects URLs in first-seen order without repeats, up to post.MaxURLs+1.
type urlSet struct {
	list []string
	seen map[string]bool
}

func newURLSet(have []string) *urlSet {
	s := &urlSet{seen: make(map[string]bool, len(have))}
	for _, u := range have {
		s.add(u)
	}
	return s
}

// add adds u, reporting false once the set is full.
func (s *urlSet) add(u string) bool {
	if len(s.list) > post.MaxURLs {
		return false
	}
	if u != "" && !s.seen[u] {
		s.seen[u] = true
		s.list = append(s.list, u)
	}
	return true
}

// addLink adds a link entity: its expanded URL, or the t.co one when it has none.
func (s *urlSet) addLink(short, expanded string) bool {
	if expanded != "" {
		return s.add(expanded)
	}
	return s.add(short)
}

// Link is a URL entity of either API version: the t.co link in the text and where it
// leads.
type Link struct {
	URL         string `json:"url"`
	ExpandedURL string `json:"expanded_url"`
}

// addLinks adds links to p's URLs, skipping any already there, until p has one too many.
func addLinks(p *post.Post, links []Link) {
	urls := newURLSet(p.URLs)
	for _, u := range links {
		if !urls.addLink(u.URL, u.ExpandedURL) {
			break
		}
	}
	p.URLs = urls.list
}

// addMentions adds accounts to p's mentions, skipping any already there, until p has one
// too many. accounts is a sequence so that a hostile record's 100k mentions are not all
// built first.
func addMentions(p *post.Post, accounts iter.Seq[post.Account]) {
	mentions := newMentionSet(p.Mentions)
	for a := range accounts {
		if !mentions.add(a) {
			break
		}
	}
	p.Mentions = mentions.list
}

// mentionSet collects mentioned accounts without repeats: the same id, or for an account
// without id the same handle (in any case), up to post.MaxMentions+1.
type mentionSet struct {
	list    []post.Account
	ids     map[string]bool
	handles map[string]bool
}

func newMentionSet(have []post.Account) *mentionSet {
	s := &mentionSet{ids: map[string]bool{}, handles: map[string]bool{}}
	for _, m := range have {
		s.add(m)
	}
	return s
}

// add adds m, reporting false once the set is full.
func (s *mentionSet) add(m post.Account) bool {
	if len(s.list) > post.MaxMentions {
		return false
	}
	if m.ID == "" && m.Handle == "" {
		return true
	}
	h := strings.ToLower(m.Handle)
	if m.ID != "" && s.ids[m.ID] || m.ID == "" && s.handles[h] {
		return true
	}
	if m.ID != "" {
		s.ids[m.ID] = true
	}
	if m.Handle != "" {
		s.handles[h] = true
	}
	s.list = append(s.list, m)
	return true
}
