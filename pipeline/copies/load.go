package copies

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/storage"
)

// queryCopies reads the recorded copies of some posts of a community.
const queryCopies = `
SELECT post_id, toString(network) AS network, copy_id, url
FROM chatnight.post_copies FINAL
WHERE community = {community:String} AND post_id IN {ids:Array(String)}
ORDER BY post_id, network, copy_id`

// Load returns the copies recorded for posts ids of community, by post id.
func Load(ctx context.Context, conn driver.Conn, community string, ids []string) (map[string][]Copy, error) {
	out := map[string][]Copy{}
	for i := 0; i < len(ids); i += 5000 {
		var rows []struct {
			PostID  string `ch:"post_id"`
			Network string `ch:"network"`
			CopyID  string `ch:"copy_id"`
			URL     string `ch:"url"`
		}
		qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
			"community": community, "ids": storage.ArrayParam(ids[i:min(i+5000, len(ids))]),
		}))
		if err := conn.Select(qctx, &rows, queryCopies); err != nil {
			return nil, fmt.Errorf("read copies of %d posts: %w", len(ids), err)
		}
		for _, r := range rows {
			out[r.PostID] = append(out[r.PostID], Copy{Network: r.Network, ID: r.CopyID, URL: r.URL})
		}
	}
	return out, nil
}

// With is where a post appeared: on its own network (id, url) and as its copies.
func With(id, url string, cs []Copy) []Copy {
	network, _, _ := strings.Cut(id, ":")
	return append([]Copy{{Network: network, ID: id, URL: url}}, cs...)
}
