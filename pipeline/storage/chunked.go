package storage

import (
	"context"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SelectChunked runs query with values bound to the Array(String) parameter param, size
// values at a time (base binds the other parameters), and returns the rows of every run. Query parameters travel in the URL
// over HTTP, and the embedded endpoint, like ClickHouse, refuses request headers over 1 MiB:
// a long list of ids has to be cut.
func SelectChunked[T any](ctx context.Context, conn driver.Conn, query string, base clickhouse.Parameters, param string, values []string, size int) ([]T, error) {
	var out []T
	for chunk := range slices.Chunk(values, size) {
		var rows []T
		params := clickhouse.Parameters{param: ArrayParam(chunk)}
		for k, v := range base {
			params[k] = v
		}
		qctx := clickhouse.Context(ctx, clickhouse.WithParameters(params))
		if err := conn.Select(qctx, &rows, query); err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}
