// Package xapi reads X (Twitter): the API v2 recent-search and filtered-stream sources,
// and parsers for v2 and v1.1 tweet JSON as archives hold them (twarc, twarc2, stream
// captures). Parsing is pure: bytes in, canonical posts out.
package xapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
)

// Message is one v2 response body: a search or lookup page ("data" is an array), a
// filtered-stream message ("data" is one tweet, with matching_rules), or a bare tweet
// object as some tools write them one per line.
type Message struct {
	Tweets        []Tweet
	Includes      Includes
	Meta          Meta
	MatchingRules []MatchingRule
	Errors        []APIError
}

// Tweet is the part of a v2 tweet object chatnight uses; Raw is the object as received.
type Tweet struct {
	ID               string            `json:"id"`
	Text             string            `json:"text"`
	AuthorID         string            `json:"author_id"`
	CreatedAt        string            `json:"created_at"`
	ConversationID   string            `json:"conversation_id"`
	InReplyToUserID  string            `json:"in_reply_to_user_id"`
	Lang             string            `json:"lang"`
	ReferencedTweets []ReferencedTweet `json:"referenced_tweets"`
	Entities         Entities          `json:"entities"`
	NoteTweet        *NoteTweet        `json:"note_tweet"`

	Raw json.RawMessage `json:"-"`
}

// ReferencedTweet links a tweet to the one it replies to, quotes or retweets.
type ReferencedTweet struct {
	Type string `json:"type"` // "replied_to", "quoted", "retweeted"
	ID   string `json:"id"`
}

// Entities are the parsed parts of a tweet's text.
type Entities struct {
	Hashtags []struct {
		Tag string `json:"tag"`
	} `json:"hashtags"`
	Mentions []struct {
		Start    int    `json:"start"`
		Username string `json:"username"`
		ID       string `json:"id"`
	} `json:"mentions"`
	URLs []Link `json:"urls"`
}

// NoteTweet holds the full text of a tweet longer than 280 characters.
type NoteTweet struct {
	Text     string    `json:"text"`
	Entities *Entities `json:"entities"`
}

// User is the part of a v2 user object chatnight uses.
type User struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	PublicMetrics struct {
		FollowersCount uint64 `json:"followers_count"`
	} `json:"public_metrics"`
}

// Includes are the objects expanded from the tweets' references.
type Includes struct {
	Users  []User
	Tweets []Tweet
}

// Meta is a page's paging information.
type Meta struct {
	NewestID    string `json:"newest_id"`
	OldestID    string `json:"oldest_id"`
	ResultCount int    `json:"result_count"`
	NextToken   string `json:"next_token"`
}

// MatchingRule names a filtered-stream rule a tweet matched.
type MatchingRule struct {
	ID  string
	Tag string
}

func (r *MatchingRule) UnmarshalJSON(b []byte) error {
	var v struct {
		ID  idString `json:"id"`
		Tag *string  `json:"tag"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.ID = string(v.ID)
	if v.Tag != nil {
		r.Tag = *v.Tag
	}
	return nil
}

// APIError is a problem object the API sends in "errors" (partial errors on a page, or
// a stream notice such as an operational disconnect).
type APIError struct {
	Title          string `json:"title"`
	Detail         string `json:"detail"`
	Type           string `json:"type"`
	DisconnectType string `json:"disconnect_type"`
	Message        string `json:"message"`
}

func (e APIError) String() string {
	parts := []string{}
	for _, s := range []string{e.Title, e.DisconnectType, e.Detail, e.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ": ")
}

// DecodeMessage decodes a v2 response body, stream message or bare tweet object.
func DecodeMessage(raw []byte) (*Message, error) {
	var env struct {
		Data     json.RawMessage `json:"data"`
		Includes struct {
			Users  []User            `json:"users"`
			Tweets []json.RawMessage `json:"tweets"`
		} `json:"includes"`
		Meta          *Meta          `json:"meta"`
		MatchingRules []MatchingRule `json:"matching_rules"`
		Errors        []APIError     `json:"errors"`
		// a bare tweet object
		ID   *string `json:"id"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("decode X v2 JSON: %w", err)
	}
	m := &Message{MatchingRules: env.MatchingRules, Errors: env.Errors}
	if env.Meta != nil {
		m.Meta = *env.Meta
	}
	m.Includes.Users = env.Includes.Users
	data := bytes.TrimSpace(env.Data)
	switch {
	case len(data) == 0 || string(data) == "null":
		if env.ID != nil && env.Text != nil {
			data = bytes.TrimSpace(raw)
			t, err := decodeTweet(data)
			if err != nil {
				return nil, err
			}
			m.Tweets = []Tweet{t}
		} else if len(env.Errors) == 0 && env.Meta == nil {
			return nil, errors.New("not an X v2 response, stream message or tweet: no data, errors or meta")
		}
	case data[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("decode X v2 data: %w", err)
		}
		for _, it := range items {
			t, err := decodeTweet(it)
			if err != nil {
				return nil, err
			}
			m.Tweets = append(m.Tweets, t)
		}
	case data[0] == '{':
		t, err := decodeTweet(data)
		if err != nil {
			return nil, err
		}
		m.Tweets = []Tweet{t}
	default:
		return nil, fmt.Errorf("decode X v2 data: want an object or array, got %.20s", data)
	}
	for _, it := range env.Includes.Tweets {
		t, err := decodeTweet(it)
		if err != nil {
			return nil, fmt.Errorf("includes: %w", err)
		}
		m.Includes.Tweets = append(m.Includes.Tweets, t)
	}
	return m, nil
}

func decodeTweet(raw []byte) (Tweet, error) {
	var t Tweet
	if err := json.Unmarshal(raw, &t); err != nil {
		return Tweet{}, fmt.Errorf("decode X v2 tweet: %w", err)
	}
	t.Raw = append(json.RawMessage(nil), raw...)
	return t, nil
}

// ParseV2 turns a v2 response page, stream message or bare tweet into posts (without
// community): one per tweet in data, plus the original of each retweet when the
// includes carry it. A tweet that cannot be used is reported in the error while the
// others are still returned.
func ParseV2(raw []byte, src post.Source) ([]*post.Post, error) {
	m, err := DecodeMessage(raw)
	if err != nil {
		return nil, err
	}
	posts, err := m.Posts(src)
	kept, refused := post.Usable(posts) // posts the pipeline would refuse are reported too
	return kept, errors.Join(err, refused)
}

// RuleTags lists the tags of the stream rules the message matched.
func (m *Message) RuleTags() []string {
	var tags []string
	for _, r := range m.MatchingRules {
		if r.Tag != "" {
			tags = append(tags, r.Tag)
		}
	}
	return tags
}

// Posts converts the message's tweets. Each retweet is followed by its original when
// the includes hold it; a tweet already returned is not returned again.
func (m *Message) Posts(src post.Source) ([]*post.Post, error) {
	ix := m.index()
	var (
		out  []*post.Post
		errs []error
		seen = map[string]bool{}
	)
	add := func(t *Tweet) {
		if seen[t.ID] {
			return
		}
		p, err := ix.post(t, src)
		if err != nil {
			errs = append(errs, err)
			return
		}
		seen[t.ID] = true
		out = append(out, p)
	}
	for i := range m.Tweets {
		t := &m.Tweets[i]
		add(t)
		for _, ref := range t.ReferencedTweets {
			if ref.Type == "retweeted" {
				if orig, ok := ix.tweets[ref.ID]; ok {
					add(orig)
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

type index struct {
	users  map[string]*User
	tweets map[string]*Tweet
}

func (m *Message) index() *index {
	ix := &index{users: map[string]*User{}, tweets: map[string]*Tweet{}}
	for i := range m.Includes.Users {
		u := &m.Includes.Users[i]
		ix.users[u.ID] = u
	}
	for i := range m.Includes.Tweets {
		t := &m.Includes.Tweets[i]
		ix.tweets[t.ID] = t
	}
	return ix
}

func (ix *index) post(t *Tweet, src post.Source) (*post.Post, error) {
	if !validID(t.ID) {
		return nil, fmt.Errorf("tweet id %q is not a tweet id", t.ID)
	}
	if !validID(t.AuthorID) {
		return nil, fmt.Errorf("tweet %s: no author_id (request expansions=author_id)", t.ID)
	}
	created, err := time.Parse(time.RFC3339Nano, t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("tweet %s: created_at %q: want RFC 3339 time (request tweet.fields=created_at)", t.ID, t.CreatedAt)
	}
	p := &post.Post{
		ID:        PostID(t.ID),
		Source:    src,
		Author:    post.Account{ID: AccountID(t.AuthorID)},
		CreatedAt: created,
		Text:      PlainText(t.Text),
		Lang:      t.Lang,
		Raw:       t.Raw,
	}
	u := ix.users[t.AuthorID]
	if u != nil {
		p.Author.Handle, p.Author.Name = u.Username, u.Name
		p.Author.Followers = u.PublicMetrics.FollowersCount
		p.Author.Bio = PlainText(u.Description)
	}
	p.URL = StatusURL(p.Author.Handle, t.ID)
	if t.ConversationID != "" {
		p.RootID = PostID(t.ConversationID)
	}
	if t.InReplyToUserID != "" {
		p.ReplyToAuthorID = AccountID(t.InReplyToUserID)
	}
	ents := &t.Entities
	if t.NoteTweet != nil && t.NoteTweet.Text != "" {
		// A long tweet: text is cut at 280 characters, note_tweet has all of it.
		p.Text = PlainText(t.NoteTweet.Text)
		if t.NoteTweet.Entities != nil {
			ents = t.NoteTweet.Entities
		}
	}
	var tags tagSet
	for _, h := range ents.Hashtags {
		if !tags.add(h.Tag) {
			break
		}
	}
	addMentions(p, func(yield func(post.Account) bool) {
		for _, mn := range ents.Mentions {
			a := post.Account{Handle: mn.Username}
			if mn.ID != "" {
				a.ID = AccountID(mn.ID)
			}
			if u := ix.users[mn.ID]; u != nil && mn.ID != "" {
				a.Name = u.Name
			}
			if !yield(a) {
				return
			}
		}
	})
	addLinks(p, ents.URLs)
	for _, ref := range t.ReferencedTweets {
		if !validID(ref.ID) {
			continue
		}
		target := ix.tweets[ref.ID]
		switch ref.Type {
		case "replied_to":
			p.ReplyToID = PostID(ref.ID)
			if p.ReplyToAuthorID == "" && target != nil && target.AuthorID != "" {
				p.ReplyToAuthorID = AccountID(target.AuthorID)
			}
		case "quoted":
			p.QuoteOfID = PostID(ref.ID)
			if target != nil && target.AuthorID != "" {
				p.QuoteOfAuthorID = AccountID(target.AuthorID)
			}
		case "retweeted":
			p.RepostOfID = PostID(ref.ID)
			switch {
			case target != nil && target.AuthorID != "":
				p.RepostOfAuthorID = AccountID(target.AuthorID)
			default:
				// "RT @user: ..." - the mention right after "RT " is the original's author.
				for _, mn := range t.Entities.Mentions {
					if mn.Start == 3 && mn.ID != "" && strings.HasPrefix(t.Text, "RT @") {
						p.RepostOfAuthorID = AccountID(mn.ID)
					}
				}
			}
			if target != nil {
				// The retweet's own text is cut short and may have lost hashtags the
				// original carries; a retweet spreads all of them.
				oe := &target.Entities
				if target.NoteTweet != nil && target.NoteTweet.Entities != nil {
					oe = target.NoteTweet.Entities
				}
				for _, h := range oe.Hashtags {
					tags.add(h.Tag)
				}
			}
		}
	}
	p.Hashtags = tags.tags
	p.Normalize()
	return p, nil
}
