// Package live defines the events processors publish on live.<community> after a batch
// is committed to ClickHouse, and that the web tier fans out to viewers. A NATS message
// carries the events of one batch as JSON Lines; its LIVE-stream sequence number is the
// resume point of a viewer.
package live

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Event types.
const (
	TypePost   = "post"   // a committed post with its placement
	TypeUpdate = "update" // a post shown before, placed anew in its thread: replace it
	TypeStats  = "stats"  // per-minute activity of the current session
	TypeDelete = "delete" // the post PostID was deleted at its source: remove it
)

// Event is one live update.
type Event struct {
	Type      string `json:"type"`
	Community string `json:"community"`
	Post      *Post  `json:"post,omitempty"`
	Stats     *Stats `json:"stats,omitempty"`
	PostID    string `json:"post_id,omitempty"` // TypeDelete
}

// Post is a post as viewers see it: text is plain (sources' HTML was converted at
// ingest) and must still be escaped when rendered.
type Post struct {
	ID               string    `json:"id"`
	Source           string    `json:"source"`
	Kind             string    `json:"kind"`
	AuthorID         string    `json:"author_id"`
	AuthorHandle     string    `json:"author_handle"`
	AuthorName       string    `json:"author_name,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	Text             string    `json:"text"`
	URL              string    `json:"url,omitempty"`
	ReplyToID        string    `json:"reply_to_id,omitempty"`
	ReplyToAuthor    string    `json:"reply_to_author_id,omitempty"`
	RootID           string    `json:"root_id,omitempty"`
	Depth            int       `json:"depth,omitempty"`
	QuoteOfID        string    `json:"quote_of_id,omitempty"`
	QuoteOfAuthorID  string    `json:"quote_of_author_id,omitempty"`
	RepostOfID       string    `json:"repost_of_id,omitempty"`
	RepostOfAuthorID string    `json:"repost_of_author_id,omitempty"`
	Mentions         []string  `json:"mentions,omitempty"`        // account ids
	MentionHandles   []string  `json:"mention_handles,omitempty"` // their handles, same order
	Hashtags         []string  `json:"hashtags,omitempty"`
	SessionID        string    `json:"session_id,omitempty"`
	IsHost           bool      `json:"is_host,omitempty"`
	Marks            []Mark    `json:"marks,omitempty"`
	// Person is who the author is (package people), filled in by the web tier for
	// viewers: processors do not set it.
	Person *Person `json:"person,omitempty"`
}

// Person is the person an account belongs to, as the read model links accounts: the
// viewer's leaderboard counts people from it.
type Person struct {
	ID string `json:"id"` // the person's id; the account's own when linked to no other
	// Why the person's accounts are linked, one line each.
	Why []string `json:"why,omitempty"`
	// Segments are the account's own (a person holds those of all their accounts).
	Segments []Segment `json:"segments,omitempty"`
	// Hidden says the person opted out (on any account): ID is their pseudonym, and
	// they are counted as the API counts them, with no segment and no links.
	Hidden bool `json:"hidden,omitempty"`
}

// Segment is a stakeholder segment with the rule that gave it.
type Segment struct {
	Segment string `json:"segment"`
	Reason  string `json:"reason"`
}

// Mark is a tweetchat mark found in a post: Q1, A2, T1.
type Mark struct {
	Kind   string `json:"kind"` // question, answer, topic
	Number int    `json:"number"`
}

// Stats is a minute of activity.
type Stats struct {
	SessionID string    `json:"session_id"`
	Minute    time.Time `json:"minute"`
	Posts     int       `json:"posts"`
}

// Encode writes events as JSON Lines.
func Encode(events []Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return nil, fmt.Errorf("encode live event: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// Decode reads the events of one message.
func Decode(data []byte) ([]Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []Event
	for dec.More() {
		var e Event
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("decode live event: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
