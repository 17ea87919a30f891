// Package graph turns posts into participant-graph interactions: who replied to,
// mentioned, quoted or reposted whom.
//
// Each post gives at most one edge per (kind, destination):
//
//   - reply: the author of the post replied to (ReplyToAuthorID, or the parent's author
//     when the source did not say and the parent is known);
//   - quote: the quoted post's author;
//   - repost: the reposted post's author; a repost gives no other edge, since the
//     mentions in its text are the original author's;
//   - mention: each mentioned account, once per post. A reply's mention of the account
//     it replies to, and a quote's mention of the quoted author, are not counted again:
//     networks put those mentions in by themselves. Only the reply-to author the source
//     gave is skipped, never one learnt from the parent, so that a post's mention edges
//     depend on the post alone, whether its parent arrived first or not. Mentions
//     without an account id (unresolved handles) are skipped.
//
// No edge points from an account to itself. Weights are not computed here: every edge is
// one row of edge_events keyed by its post, and the edges view counts them when read, so
// writing a post twice does not change a weight. The edge's session is the post's.
package graph

import (
	"github.com/chatnight/chatnight/pipeline/storage"
)

// Edge kinds, as stored in edge_events.kind.
const (
	KindReply   = "reply"
	KindMention = "mention"
	KindQuote   = "quote"
	KindRepost  = "repost"
)

// Edge is one interaction of a post's author with another account.
type Edge struct {
	Src, Dst, Kind string
}

// Edges returns the interactions of the post row r. parentAuthor is used for the reply
// edge when r.ReplyToAuthorID is empty ("" when the parent is unknown).
func Edges(r *storage.PostRow, parentAuthor string) []Edge {
	src := r.AuthorID
	var out []Edge
	add := func(dst, kind string) {
		if dst == "" || dst == src {
			return
		}
		for _, e := range out {
			if e.Dst == dst && e.Kind == kind {
				return
			}
		}
		out = append(out, Edge{Src: src, Dst: dst, Kind: kind})
	}
	if r.RepostOfID != "" || r.Kind == KindRepost {
		add(r.RepostOfAuthorID, KindRepost)
		return out
	}
	if r.ReplyToID != "" {
		replyTo := r.ReplyToAuthorID
		if replyTo == "" {
			replyTo = parentAuthor
		}
		add(replyTo, KindReply)
	}
	if r.QuoteOfID != "" {
		add(r.QuoteOfAuthorID, KindQuote)
	}
	for _, m := range r.MentionIDs {
		if (r.ReplyToID != "" && m == r.ReplyToAuthorID) || (r.QuoteOfID != "" && m == r.QuoteOfAuthorID) {
			continue
		}
		add(m, KindMention)
	}
	return out
}

// Rows returns the edge_events rows of edges made by the post row r.
func Rows(r *storage.PostRow, edges []Edge, version uint64) []storage.EdgeRow {
	rows := make([]storage.EdgeRow, 0, len(edges))
	for _, e := range edges {
		rows = append(rows, storage.EdgeRow{
			Community: r.Community, SessionID: r.SessionID, Src: e.Src, Dst: e.Dst, Kind: e.Kind,
			PostID: r.ID, CreatedAt: r.CreatedAt, Version: version,
		})
	}
	return rows
}
