package storage

import (
	"time"

	"github.com/chatnight/chatnight/pipeline/live"
)

// The row types mirror the tables of schema/migrations; `ch` tags name the columns.

// PostRow is a row of chatnight.posts.
type PostRow struct {
	ID               string    `ch:"id"`
	Community        string    `ch:"community"`
	Source           string    `ch:"source"`
	Kind             string    `ch:"kind"`
	AuthorID         string    `ch:"author_id"`
	AuthorHandle     string    `ch:"author_handle"`
	AuthorName       string    `ch:"author_name"`
	AuthorFollowers  uint64    `ch:"author_followers"`
	CreatedAt        time.Time `ch:"created_at"`
	Text             string    `ch:"text"`
	Lang             string    `ch:"lang"`
	URL              string    `ch:"url"`
	ReplyToID        string    `ch:"reply_to_id"`
	ReplyToAuthorID  string    `ch:"reply_to_author_id"`
	RootID           string    `ch:"root_id"`
	Depth            uint16    `ch:"depth"`
	QuoteOfID        string    `ch:"quote_of_id"`
	QuoteOfAuthorID  string    `ch:"quote_of_author_id"`
	RepostOfID       string    `ch:"repost_of_id"`
	RepostOfAuthorID string    `ch:"repost_of_author_id"`
	MentionIDs       []string  `ch:"mention_ids"`
	MentionHandles   []string  `ch:"mention_handles"`
	Hashtags         []string  `ch:"hashtags"`
	URLs             []string  `ch:"urls"`
	SessionID        string    `ch:"session_id"`
	IsHost           bool      `ch:"is_host"`
	Raw              string    `ch:"raw"`
	IngestedAt       time.Time `ch:"ingested_at"`
	Version          uint64    `ch:"version"`
}

// SessionRow is a row of chatnight.sessions.
type SessionRow struct {
	ID        string    `ch:"id"`
	Community string    `ch:"community"`
	Start     time.Time `ch:"start"`
	End       time.Time `ch:"end"`
	Kind      string    `ch:"kind"` // "scheduled" or "detected"
	Hosts     []string  `ch:"hosts"`
	Version   uint64    `ch:"version"`
}

// QAMarkRow is a row of chatnight.qa_marks.
type QAMarkRow struct {
	Community string    `ch:"community"`
	SessionID string    `ch:"session_id"`
	Kind      string    `ch:"kind"` // "question", "answer" or "topic"
	Number    uint16    `ch:"number"`
	PostID    string    `ch:"post_id"`
	AuthorID  string    `ch:"author_id"`
	CreatedAt time.Time `ch:"created_at"`
	ReplyToID string    `ch:"reply_to_id"`
	Version   uint64    `ch:"version"`
}

// EdgeRow is a row of chatnight.edge_events: one interaction from src to dst.
type EdgeRow struct {
	Community string    `ch:"community"`
	SessionID string    `ch:"session_id"`
	Src       string    `ch:"src"`
	Dst       string    `ch:"dst"`
	Kind      string    `ch:"kind"` // "reply", "mention", "quote" or "repost"
	PostID    string    `ch:"post_id"`
	CreatedAt time.Time `ch:"created_at"`
	Version   uint64    `ch:"version"`
}

// SegmentRow is a row of chatnight.account_segments: an account's segments in a
// community and why (Reasons, same order).
type SegmentRow struct {
	Community string   `ch:"community"`
	AccountID string   `ch:"account_id"`
	Segments  []string `ch:"segments"`
	Reasons   []string `ch:"reasons"`
	Version   uint64   `ch:"version"`
}

// ClaimRow is a row of chatnight.account_claims (see package people).
type ClaimRow struct {
	AccountID string `ch:"account_id"`
	Claim     string `ch:"claim"`
	Reason    string `ch:"reason"`
	Version   uint64 `ch:"version"`
}

// PersonRow is a row of chatnight.account_people: the person (package people) an
// account linked to others belongs to, and why its accounts are linked.
type PersonRow struct {
	AccountID string   `ch:"account_id"`
	PersonID  string   `ch:"person_id"`
	Why       []string `ch:"why"`
	Version   uint64   `ch:"version"`
}

// CopyRow is a row of chatnight.post_copies: PostID appeared as CopyID on Network.
type CopyRow struct {
	Community string    `ch:"community"`
	PostID    string    `ch:"post_id"`
	Network   string    `ch:"network"`
	CopyID    string    `ch:"copy_id"`
	URL       string    `ch:"url"`
	CreatedAt time.Time `ch:"created_at"`
	Version   uint64    `ch:"version"`
}

// TextRow is a row of chatnight.post_texts: a stored post by the hash of its text.
type TextRow struct {
	Community string    `ch:"community"`
	TextHash  uint64    `ch:"text_hash"`
	CreatedAt time.Time `ch:"created_at"`
	ID        string    `ch:"id"`
	AuthorID  string    `ch:"author_id"`
}

// DeletionRow is a row of chatnight.deletions.
type DeletionRow struct {
	PostID     string    `ch:"post_id"`
	Source     string    `ch:"source"`
	Reason     string    `ch:"reason"`
	DeletedAt  time.Time `ch:"deleted_at"`
	RecordedAt time.Time `ch:"recorded_at"`
	PurgedAt   time.Time `ch:"purged_at"`
	Version    uint64    `ch:"version"`
}

// CompletenessRow is a row of chatnight.completeness_events.
type CompletenessRow struct {
	Source     string    `ch:"source"`
	Community  string    `ch:"community"`
	From       time.Time `ch:"from_at"`
	To         time.Time `ch:"to_at"`
	Kind       string    `ch:"kind"`
	Detail     string    `ch:"detail"`
	Count      uint64    `ch:"count"`
	EventID    string    `ch:"event_id"`
	RecordedAt time.Time `ch:"recorded_at"`
}

// ConsentRow is a row of chatnight.account_consent.
type ConsentRow struct {
	AccountID string    `ch:"account_id"`
	Handle    string    `ch:"handle"`
	NoIndex   uint8     `ch:"noindex"`
	Indexable uint8     `ch:"indexable"`
	SeenAt    time.Time `ch:"seen_at"`
	Version   uint64    `ch:"version"`
}

// DetectedCellRow is a row of chatnight.detected_cells: the detected session a cell
// belongs to.
type DetectedCellRow struct {
	Community string `ch:"community"`
	Cell      string `ch:"cell"`
	SessionID string `ch:"session_id"`
	Version   uint64 `ch:"version"`
}

// BurstRow is a row of chatnight.bursts: a detected session, or one merged into
// another (MergedInto set).
type BurstRow struct {
	Community  string    `ch:"community"`
	ID         string    `ch:"id"`
	Start      time.Time `ch:"start"`
	End        time.Time `ch:"end"`
	MergedInto string    `ch:"merged_into"`
	Version    uint64    `ch:"version"`
}

// Batch is everything one processor batch writes.
type Batch struct {
	// ID names the batch in ClickHouse's query ids and in logs; empty: none.
	ID       string
	Sessions []SessionRow
	Posts    []PostRow
	QAMarks  []QAMarkRow
	Edges    []EdgeRow
	Segments []SegmentRow
	Claims   []ClaimRow
	People   []PersonRow
	Copies   []CopyRow
	Texts    []TextRow
	Consent  []ConsentRow // consent signals of the batch's authors (account_consent)
}

// Len is the number of rows in the batch.
func (b *Batch) Len() int {
	return len(b.Sessions) + len(b.Posts) + len(b.QAMarks) + len(b.Edges) + len(b.Segments) + len(b.Claims) + len(b.People) + len(b.Copies) + len(b.Texts) + len(b.Consent)
}

// Live is the viewer's form of a stored post with its Q/A marks: what processors
// announce on live.<community> and what the web tier reads back.
func (r *PostRow) Live(marks []live.Mark) *live.Post {
	return &live.Post{
		ID:               r.ID,
		Source:           r.Source,
		Kind:             r.Kind,
		AuthorID:         r.AuthorID,
		AuthorHandle:     r.AuthorHandle,
		AuthorName:       r.AuthorName,
		CreatedAt:        r.CreatedAt.UTC(),
		Text:             r.Text,
		URL:              r.URL,
		ReplyToID:        r.ReplyToID,
		ReplyToAuthor:    r.ReplyToAuthorID,
		RootID:           r.RootID,
		Depth:            int(r.Depth),
		QuoteOfID:        r.QuoteOfID,
		QuoteOfAuthorID:  r.QuoteOfAuthorID,
		RepostOfID:       r.RepostOfID,
		RepostOfAuthorID: r.RepostOfAuthorID,
		Mentions:         r.MentionIDs,
		MentionHandles:   r.MentionHandles,
		Hashtags:         r.Hashtags,
		SessionID:        r.SessionID,
		IsHost:           r.IsHost,
		Marks:            marks,
	}
}
