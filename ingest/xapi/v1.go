package xapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
)

// TimeLayoutV1 is how API v1.1 (and TAGS, which copies it) writes created_at.
const TimeLayoutV1 = time.RubyDate // "Mon Jan 02 15:04:05 -0700 2006"

type v1Tweet struct {
	IDStr         idString `json:"id_str"`
	ID            idString `json:"id"`
	FullText      string   `json:"full_text"`
	Text          string   `json:"text"`
	CreatedAt     string   `json:"created_at"`
	Lang          string   `json:"lang"`
	ExtendedTweet *struct {
		FullText string      `json:"full_text"`
		Entities *V1Entities `json:"entities"`
	} `json:"extended_tweet"`
	User struct {
		IDStr          idString `json:"id_str"`
		ID             idString `json:"id"`
		ScreenName     string   `json:"screen_name"`
		Name           string   `json:"name"`
		Description    string   `json:"description"`
		FollowersCount uint64   `json:"followers_count"`
	} `json:"user"`
	InReplyToStatusIDStr idString        `json:"in_reply_to_status_id_str"`
	InReplyToUserIDStr   idString        `json:"in_reply_to_user_id_str"`
	QuotedStatusIDStr    idString        `json:"quoted_status_id_str"`
	RetweetedStatus      json.RawMessage `json:"retweeted_status"`
	QuotedStatus         json.RawMessage `json:"quoted_status"`
	Entities             V1Entities      `json:"entities"`

	// Stream notices that are not tweets.
	Delete json.RawMessage `json:"delete"`
	Limit  json.RawMessage `json:"limit"`
}

// V1Entities are a v1.1 tweet's entities, also found in TAGS's entities_str column.
type V1Entities struct {
	Hashtags []struct {
		Text string `json:"text"`
	} `json:"hashtags"`
	UserMentions []struct {
		IDStr      idString `json:"id_str"`
		ScreenName string   `json:"screen_name"`
		Name       string   `json:"name"`
		Indices    []int    `json:"indices"`
	} `json:"user_mentions"`
	URLs []Link `json:"urls"`
}

// Apply adds the entities to p: folded hashtags, mentions and expanded URLs, skipping
// any already there.
func (e *V1Entities) Apply(p *post.Post) {
	tags := tagSet{}
	for _, t := range p.Hashtags {
		tags.add(t)
	}
	for _, h := range e.Hashtags {
		if !tags.add(h.Text) {
			break
		}
	}
	p.Hashtags = tags.tags
	addMentions(p, func(yield func(post.Account) bool) {
		for _, m := range e.UserMentions {
			a := post.Account{Handle: m.ScreenName, Name: m.Name}
			if validID(string(m.IDStr)) {
				a.ID = AccountID(string(m.IDStr))
			}
			if !yield(a) {
				return
			}
		}
	})
	addLinks(p, e.URLs)
}

// RetweetAuthor returns the user id of the account a "RT @user: ..." text retweets,
// found among the mentions, or "" when the mentions do not say.
func (e *V1Entities) RetweetAuthor(text string) string {
	if !strings.HasPrefix(text, "RT @") {
		return ""
	}
	handle := text[len("RT @"):]
	if i := strings.IndexAny(handle, ": "); i >= 0 {
		handle = handle[:i]
	}
	for _, m := range e.UserMentions {
		if strings.EqualFold(m.ScreenName, handle) && validID(string(m.IDStr)) {
			return AccountID(string(m.IDStr))
		}
	}
	return ""
}

// ParseV1 turns one v1.1 tweet object into posts (without community): the tweet, and
// for a retweet also the original it carries. Stream notices (delete, limit) give no
// posts and no error.
func ParseV1(raw []byte, src post.Source) ([]*post.Post, error) {
	posts, err := parseV1(raw, src, 0)
	if err != nil {
		return nil, err
	}
	return post.Usable(posts) // a post the pipeline would refuse makes the record invalid
}

func parseV1(raw []byte, src post.Source, depth int) ([]*post.Post, error) {
	var t v1Tweet
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("decode X v1.1 tweet: %w", err)
	}
	id := string(t.IDStr)
	if id == "" {
		id = string(t.ID)
	}
	if id == "" && (t.Delete != nil || t.Limit != nil) {
		return nil, nil
	}
	if !validID(id) {
		return nil, fmt.Errorf("X v1.1 tweet: id_str %q is not a tweet id", id)
	}
	userID := string(t.User.IDStr)
	if userID == "" {
		userID = string(t.User.ID)
	}
	if !validID(userID) {
		return nil, fmt.Errorf("X v1.1 tweet %s: user.id_str %q is not a user id", id, userID)
	}
	created, err := time.Parse(TimeLayoutV1, t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("X v1.1 tweet %s: created_at %q: want %q", id, t.CreatedAt, TimeLayoutV1)
	}
	text, ents := t.Text, &t.Entities
	switch {
	case t.ExtendedTweet != nil && t.ExtendedTweet.FullText != "":
		text = t.ExtendedTweet.FullText
		if t.ExtendedTweet.Entities != nil {
			ents = t.ExtendedTweet.Entities
		}
	case t.FullText != "":
		text = t.FullText
	}
	p := &post.Post{
		ID:     PostID(id),
		Source: src,
		Author: post.Account{
			ID:        AccountID(userID),
			Handle:    t.User.ScreenName,
			Name:      t.User.Name,
			Followers: t.User.FollowersCount,
			Bio:       PlainText(t.User.Description),
		},
		CreatedAt: created,
		Text:      PlainText(text),
		Lang:      t.Lang,
		URL:       StatusURL(t.User.ScreenName, id),
		Raw:       append([]byte(nil), raw...),
	}
	if r := string(t.InReplyToStatusIDStr); validID(r) {
		p.ReplyToID = PostID(r)
	}
	if u := string(t.InReplyToUserIDStr); validID(u) {
		p.ReplyToAuthorID = AccountID(u)
	}
	ents.Apply(p)

	var (
		out  = []*post.Post{p}
		errs []error
	)
	if q := string(t.QuotedStatusIDStr); validID(q) {
		p.QuoteOfID = PostID(q)
	}
	if len(t.QuotedStatus) > 0 && string(t.QuotedStatus) != "null" {
		var q v1Tweet
		if err := json.Unmarshal(t.QuotedStatus, &q); err == nil {
			if qid := string(q.IDStr); validID(qid) {
				p.QuoteOfID = PostID(qid)
			}
			if qu := string(q.User.IDStr); validID(qu) {
				p.QuoteOfAuthorID = AccountID(qu)
			}
		}
	}
	if len(t.RetweetedStatus) > 0 && string(t.RetweetedStatus) != "null" && depth == 0 {
		orig, err := parseV1(t.RetweetedStatus, src, depth+1)
		if err != nil {
			errs = append(errs, fmt.Errorf("retweeted_status: %w", err))
		}
		if len(orig) > 0 {
			o := orig[0]
			p.RepostOfID, p.RepostOfAuthorID = o.ID, o.Author.ID
			// The retweet's text is cut short; it spreads all the original's hashtags.
			tags := tagSet{}
			for _, h := range append(append([]string(nil), p.Hashtags...), o.Hashtags...) {
				tags.add(h)
			}
			p.Hashtags = tags.tags
			out = append(out, orig...)
		}
	}
	if p.RepostOfID == "" && strings.HasPrefix(text, "RT @") && len(t.RetweetedStatus) == 0 {
		// An old-style or trimmed retweet without retweeted_status: a repost of
		// something we cannot name, by the account the mentions tell.
		p.Kind = post.KindRepost
		p.RepostOfAuthorID = ents.RetweetAuthor(text)
	}
	for _, o := range out {
		o.Normalize()
	}
	return out, errors.Join(errs...)
}
