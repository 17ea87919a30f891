package xapi

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// CompareIDs orders two tweet ids (snowflakes: longer is newer, then by digits).
func CompareIDs(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
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

func (s *tagSet) add(tag string) {
	t := post.NormalizeTag(tag)
	if t == "" || s.seen[t] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[t] = true
	s.tags = append(s.tags, t)
}

// appendUnique appends v to list unless it is empty or already there.
func appendUnique(list []string, v string) []string {
	if v == "" {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// appendMention appends m unless an account with the same id (or, for accounts without
// id, the same handle) is already there.
func appendMention(list []post.Account, m post.Account) []post.Account {
	if m.ID == "" && m.Handle == "" {
		return list
	}
	for _, x := range list {
		if (m.ID != "" && x.ID == m.ID) || (m.ID == "" && strings.EqualFold(x.Handle, m.Handle)) {
			return list
		}
	}
	return append(list, m)
}
