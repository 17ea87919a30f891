package storage

import (
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Rows reach the driver a column at a time: one Append of a whole slice per column
// instead of AppendStruct's reflection over every field of every row (issue 14 measured
// that per row). Each table lists its columns in the order its insert names them, so
// columns a later migration adds (with defaults) do not shift them.

// column is one column of a table: its name and how to gather it from rows.
type column[T any] struct {
	name   string
	gather func(rows []T) any
}

// each gathers one field of every row into a slice.
func each[T, V any](rows []T, f func(*T) V) []V {
	out := make([]V, len(rows))
	for i := range rows {
		out[i] = f(&rows[i])
	}
	return out
}

func col[T, V any](name string, f func(*T) V) column[T] {
	return column[T]{name: name, gather: func(rows []T) any { return each(rows, f) }}
}

// insertStatement is "INSERT INTO table (`a`, `b`, ...)" for the columns.
func insertStatement[T any](table string, cols []column[T]) string {
	s := "INSERT INTO " + table + " ("
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += "`" + c.name + "`"
	}
	return s + ")"
}

// appendColumns appends rows to batch, whose insert names cols in order.
func appendColumns[T any](batch driver.Batch, cols []column[T], rows []T) error {
	for i, c := range cols {
		if err := batch.Column(i).Append(c.gather(rows)); err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return nil
}

var postColumns = []column[PostRow]{
	col("id", func(r *PostRow) string { return r.ID }),
	col("community", func(r *PostRow) string { return r.Community }),
	col("source", func(r *PostRow) string { return r.Source }),
	col("kind", func(r *PostRow) string { return r.Kind }),
	col("author_id", func(r *PostRow) string { return r.AuthorID }),
	col("author_handle", func(r *PostRow) string { return r.AuthorHandle }),
	col("author_name", func(r *PostRow) string { return r.AuthorName }),
	col("author_followers", func(r *PostRow) uint64 { return r.AuthorFollowers }),
	col("created_at", func(r *PostRow) time.Time { return r.CreatedAt }),
	col("text", func(r *PostRow) string { return r.Text }),
	col("lang", func(r *PostRow) string { return r.Lang }),
	col("url", func(r *PostRow) string { return r.URL }),
	col("reply_to_id", func(r *PostRow) string { return r.ReplyToID }),
	col("reply_to_author_id", func(r *PostRow) string { return r.ReplyToAuthorID }),
	col("root_id", func(r *PostRow) string { return r.RootID }),
	col("depth", func(r *PostRow) uint16 { return r.Depth }),
	col("quote_of_id", func(r *PostRow) string { return r.QuoteOfID }),
	col("quote_of_author_id", func(r *PostRow) string { return r.QuoteOfAuthorID }),
	col("repost_of_id", func(r *PostRow) string { return r.RepostOfID }),
	col("repost_of_author_id", func(r *PostRow) string { return r.RepostOfAuthorID }),
	col("mention_ids", func(r *PostRow) []string { return nonNil(r.MentionIDs) }),
	col("mention_handles", func(r *PostRow) []string { return nonNil(r.MentionHandles) }),
	col("hashtags", func(r *PostRow) []string { return nonNil(r.Hashtags) }),
	col("urls", func(r *PostRow) []string { return nonNil(r.URLs) }),
	col("session_id", func(r *PostRow) string { return r.SessionID }),
	col("is_host", func(r *PostRow) bool { return r.IsHost }),
	col("raw", func(r *PostRow) string { return r.Raw }),
	col("ingested_at", func(r *PostRow) time.Time { return r.IngestedAt }),
	col("version", func(r *PostRow) uint64 { return r.Version }),
}

var sessionColumns = []column[SessionRow]{
	col("id", func(r *SessionRow) string { return r.ID }),
	col("community", func(r *SessionRow) string { return r.Community }),
	col("start", func(r *SessionRow) time.Time { return r.Start }),
	col("end", func(r *SessionRow) time.Time { return r.End }),
	col("kind", func(r *SessionRow) string { return r.Kind }),
	col("hosts", func(r *SessionRow) []string { return nonNil(r.Hosts) }),
	col("version", func(r *SessionRow) uint64 { return r.Version }),
}

var qaMarkColumns = []column[QAMarkRow]{
	col("community", func(r *QAMarkRow) string { return r.Community }),
	col("session_id", func(r *QAMarkRow) string { return r.SessionID }),
	col("kind", func(r *QAMarkRow) string { return r.Kind }),
	col("number", func(r *QAMarkRow) uint16 { return r.Number }),
	col("post_id", func(r *QAMarkRow) string { return r.PostID }),
	col("author_id", func(r *QAMarkRow) string { return r.AuthorID }),
	col("created_at", func(r *QAMarkRow) time.Time { return r.CreatedAt }),
	col("reply_to_id", func(r *QAMarkRow) string { return r.ReplyToID }),
	col("version", func(r *QAMarkRow) uint64 { return r.Version }),
}

var edgeColumns = []column[EdgeRow]{
	col("community", func(r *EdgeRow) string { return r.Community }),
	col("session_id", func(r *EdgeRow) string { return r.SessionID }),
	col("src", func(r *EdgeRow) string { return r.Src }),
	col("dst", func(r *EdgeRow) string { return r.Dst }),
	col("kind", func(r *EdgeRow) string { return r.Kind }),
	col("post_id", func(r *EdgeRow) string { return r.PostID }),
	col("created_at", func(r *EdgeRow) time.Time { return r.CreatedAt }),
	col("version", func(r *EdgeRow) uint64 { return r.Version }),
}

// nonNil keeps a nil list from being refused: an empty array is what a row without
// mentions stores.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var detectedCellColumns = []column[DetectedCellRow]{
	col("community", func(r *DetectedCellRow) string { return r.Community }),
	col("cell", func(r *DetectedCellRow) string { return r.Cell }),
	col("session_id", func(r *DetectedCellRow) string { return r.SessionID }),
	col("version", func(r *DetectedCellRow) uint64 { return r.Version }),
}

var burstColumns = []column[BurstRow]{
	col("community", func(r *BurstRow) string { return r.Community }),
	col("id", func(r *BurstRow) string { return r.ID }),
	col("start", func(r *BurstRow) time.Time { return r.Start }),
	col("end", func(r *BurstRow) time.Time { return r.End }),
	col("merged_into", func(r *BurstRow) string { return r.MergedInto }),
	col("version", func(r *BurstRow) uint64 { return r.Version }),
}

var segmentColumns = []column[SegmentRow]{
	col("community", func(r *SegmentRow) string { return r.Community }),
	col("account_id", func(r *SegmentRow) string { return r.AccountID }),
	col("segments", func(r *SegmentRow) []string { return nonNil(r.Segments) }),
	col("reasons", func(r *SegmentRow) []string { return nonNil(r.Reasons) }),
	col("version", func(r *SegmentRow) uint64 { return r.Version }),
}

var claimColumns = []column[ClaimRow]{
	col("account_id", func(r *ClaimRow) string { return r.AccountID }),
	col("claim", func(r *ClaimRow) string { return r.Claim }),
	col("reason", func(r *ClaimRow) string { return r.Reason }),
	col("version", func(r *ClaimRow) uint64 { return r.Version }),
}

var personColumns = []column[PersonRow]{
	col("account_id", func(r *PersonRow) string { return r.AccountID }),
	col("person_id", func(r *PersonRow) string { return r.PersonID }),
	col("why", func(r *PersonRow) []string { return nonNil(r.Why) }),
	col("version", func(r *PersonRow) uint64 { return r.Version }),
}

var copyColumns = []column[CopyRow]{
	col("community", func(r *CopyRow) string { return r.Community }),
	col("post_id", func(r *CopyRow) string { return r.PostID }),
	col("network", func(r *CopyRow) string { return r.Network }),
	col("copy_id", func(r *CopyRow) string { return r.CopyID }),
	col("url", func(r *CopyRow) string { return r.URL }),
	col("created_at", func(r *CopyRow) time.Time { return r.CreatedAt }),
	col("version", func(r *CopyRow) uint64 { return r.Version }),
}

var textColumns = []column[TextRow]{
	col("community", func(r *TextRow) string { return r.Community }),
	col("text_hash", func(r *TextRow) uint64 { return r.TextHash }),
	col("created_at", func(r *TextRow) time.Time { return r.CreatedAt }),
	col("id", func(r *TextRow) string { return r.ID }),
	col("author_id", func(r *TextRow) string { return r.AuthorID }),
}

var consentColumns = []column[ConsentRow]{
	col("account_id", func(r *ConsentRow) string { return r.AccountID }),
	col("handle", func(r *ConsentRow) string { return r.Handle }),
	col("noindex", func(r *ConsentRow) uint8 { return r.NoIndex }),
	col("indexable", func(r *ConsentRow) uint8 { return r.Indexable }),
	col("seen_at", func(r *ConsentRow) time.Time { return r.SeenAt }),
	col("version", func(r *ConsentRow) uint64 { return r.Version }),
}

var deletionColumns = []column[DeletionRow]{
	col("post_id", func(r *DeletionRow) string { return r.PostID }),
	col("source", func(r *DeletionRow) string { return r.Source }),
	col("reason", func(r *DeletionRow) string { return r.Reason }),
	col("deleted_at", func(r *DeletionRow) time.Time { return r.DeletedAt }),
	col("recorded_at", func(r *DeletionRow) time.Time { return r.RecordedAt }),
	col("purged_at", func(r *DeletionRow) time.Time { return r.PurgedAt }),
	col("version", func(r *DeletionRow) uint64 { return r.Version }),
}

var completenessColumns = []column[CompletenessRow]{
	col("source", func(r *CompletenessRow) string { return r.Source }),
	col("community", func(r *CompletenessRow) string { return r.Community }),
	col("from_at", func(r *CompletenessRow) time.Time { return r.From }),
	col("to_at", func(r *CompletenessRow) time.Time { return r.To }),
	col("kind", func(r *CompletenessRow) string { return r.Kind }),
	col("detail", func(r *CompletenessRow) string { return r.Detail }),
	col("count", func(r *CompletenessRow) uint64 { return r.Count }),
	col("event_id", func(r *CompletenessRow) string { return r.EventID }),
	col("recorded_at", func(r *CompletenessRow) time.Time { return r.RecordedAt }),
}
