package copies

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// CrossPostWindow is how close in time the same text by one person's accounts must be
// to be one post posted twice.
const CrossPostWindow = 2 * time.Minute

// TextHash identifies a post's text for cross-post matching: case and white space
// folded. It is the one definition; chatnight.post_texts stores it.
func TextHash(text string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(strings.Join(strings.Fields(text), " "))))
	return h.Sum64()
}

// Texted is a stored post found by its text.
type Texted struct {
	Community string    `ch:"community"`
	TextHash  uint64    `ch:"text_hash"`
	CreatedAt time.Time `ch:"created_at"`
	ID        string    `ch:"id"`
	AuthorID  string    `ch:"author_id"`
}

// CrossPosts is what finding cross-posts reads: stored posts by text, and who is one
// person.
type CrossPosts interface {
	// SameText returns the stored posts of community with any of hashes created in
	// [from, to].
	SameText(ctx context.Context, community string, hashes []uint64, from, to time.Time) ([]Texted, error)
	// People maps accounts to people, counting claims not stored yet.
	People(ctx context.Context, accounts []string, extra []people.Claim) (*people.Mapping, error)
	// Evidence returns the stored claims that link accounts (reason not empty) and the
	// declared people's keys as claims of "": who may be linked at all.
	Evidence(ctx context.Context) ([]people.Claim, error)
	// Originals returns, for those of ids of community that are stored copies of a
	// post, the id of the post: a reply to a copy is a reply to the post.
	Originals(ctx context.Context, community string, ids []string) (map[string]string, error)
}

// ClickHouse reads cross-posts from ClickHouse.
type ClickHouse struct {
	conn     driver.Conn
	declared []people.Declared
}

// NewClickHouse reads through conn; declared are the communities file's people.
func NewClickHouse(conn driver.Conn, declared []people.Declared) *ClickHouse {
	return &ClickHouse{conn: conn, declared: declared}
}

// querySameText reads stored posts by text hash in a time range.
const querySameText = `
SELECT toString(community) AS community, text_hash, created_at, id, author_id
FROM chatnight.post_texts
WHERE community = {community:String} AND text_hash IN {hashes:Array(UInt64)}
  AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at <= {to:DateTime64(3, 'UTC')}`

// SameText implements CrossPosts.
func (c *ClickHouse) SameText(ctx context.Context, community string, hashes []uint64, from, to time.Time) ([]Texted, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	list := make([]string, len(hashes))
	for i, h := range hashes {
		list[i] = fmt.Sprint(h)
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"community": community, "hashes": "[" + strings.Join(list, ",") + "]",
		"from": from.UTC().Format("2006-01-02 15:04:05.000"), "to": to.UTC().Format("2006-01-02 15:04:05.000"),
	}))
	var out []Texted
	if err := c.conn.Select(qctx, &out, querySameText); err != nil {
		return nil, fmt.Errorf("read posts by text: %w", err)
	}
	return out, nil
}

// People implements CrossPosts.
func (c *ClickHouse) People(ctx context.Context, accounts []string, extra []people.Claim) (*people.Mapping, error) {
	return people.LoadWith(ctx, c.conn, accounts, c.declared, extra)
}

// queryEvidence reads the claims that are evidence of a link: few, next to the
// accounts' own keys.
const queryEvidence = `
SELECT account_id, claim, reason
FROM chatnight.account_claims FINAL
WHERE reason != ''`

// Evidence implements CrossPosts.
func (c *ClickHouse) Evidence(ctx context.Context) ([]people.Claim, error) {
	var out []people.Claim
	if err := c.conn.Select(ctx, &out, queryEvidence); err != nil {
		return nil, fmt.Errorf("read identity evidence: %w", err)
	}
	for _, d := range c.declared {
		for _, k := range d.Keys() {
			out = append(out, people.Claim{Key: k, Reason: "declared"})
		}
	}
	return out, nil
}

// queryOriginals reads the posts that some copies copy.
const queryOriginals = `
SELECT DISTINCT copy_id, post_id
FROM chatnight.post_copies
WHERE community = {community:String} AND copy_id IN {ids:Array(String)}`

// Originals implements CrossPosts.
func (c *ClickHouse) Originals(ctx context.Context, community string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(ids); i += 5000 {
		var rows []struct {
			CopyID string `ch:"copy_id"`
			PostID string `ch:"post_id"`
		}
		qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
			"community": community, "ids": storage.ArrayParam(ids[i:min(i+5000, len(ids))]),
		}))
		if err := c.conn.Select(qctx, &rows, queryOriginals); err != nil {
			return nil, fmt.Errorf("read the originals of %d possible copies: %w", len(ids), err)
		}
		for _, r := range rows {
			out[r.CopyID] = r.PostID
		}
	}
	return out, nil
}
