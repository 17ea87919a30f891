package endpoint

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

func ptr[T any](v T) *T { return &v }

// TestClickHouseGoTypes round-trips each column type through clickhouse-go over HTTP:
// PrepareBatch, Append, Send, then SELECT and Scan, comparing every value exactly.
func TestClickHouseGoTypes(t *testing.T) {
	c := rwClient(t)
	ctx := context.Background()
	ts := time.Date(2024, 2, 29, 23, 59, 58, 123_000_000, time.UTC)
	tests := []struct {
		typ  string
		in   []any // values to Append
		want []any // values Scan must give back; nil means the same as in
	}{
		{typ: "String", in: []any{"", "hello", "ünïcødé ✓", "nul\x00byte", string(make([]byte, 70000))}},
		{typ: "LowCardinality(String)", in: []any{"a", "b", "a", ""}},
		{typ: "UInt8", in: []any{uint8(0), uint8(1), uint8(math.MaxUint8)}},
		{typ: "UInt16", in: []any{uint16(0), uint16(math.MaxUint16)}},
		{typ: "UInt32", in: []any{uint32(0), uint32(math.MaxUint32)}},
		{typ: "UInt64", in: []any{uint64(0), uint64(math.MaxUint64)}},
		{typ: "Int64", in: []any{int64(math.MinInt64), int64(-1), int64(0), int64(math.MaxInt64)}},
		{typ: "Float64", in: []any{0.0, -1.5, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(-1)}},
		{typ: "Bool", in: []any{true, false}},
		{typ: "DateTime64(3, 'UTC')", in: []any{ts, time.Unix(0, 0).UTC(), time.Date(2261, 12, 31, 23, 59, 59, 999_000_000, time.UTC)}},
		{typ: "DateTime", in: []any{ts.Truncate(time.Second), time.Unix(0, 0).UTC(), time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{typ: "Date", in: []any{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{typ: "Array(String)", in: []any{[]string{"a", "b"}, []string{}, []string{""}}},
		{typ: "Array(LowCardinality(String))", in: []any{[]string{"x", "y", "x"}, []string{}}},
		{typ: "Map(String, UInt64)", in: []any{map[string]uint64{"a": 1, "b": math.MaxUint64}, map[string]uint64{}}},
		{typ: "Nullable(String)", in: []any{(*string)(nil), ptr("x"), ptr("")}},
		{typ: "Tuple(String, String)", in: []any{[]any{"a", "b"}, []any{"", "ü"}}},
		{typ: "Array(Tuple(String, String))", in: []any{[][]any{{"a", "b"}, {"c", "d"}}, [][]any{}}},
		{typ: "UUID", in: []any{uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), uuid.Nil}},
		{typ: "Enum8('draft' = 1, 'posted' = 2, 'deleted' = -1)", in: []any{"draft", "posted", "deleted"}},
	}
	for i, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			table := fmt.Sprintf("types_%d", i)
			mustExec(t, c, "DROP TABLE IF EXISTS "+table, fmt.Sprintf("CREATE TABLE %s (id UInt32, v %s) ENGINE = MergeTree ORDER BY id", table, tt.typ))
			batch, err := c.PrepareBatch(ctx, "INSERT INTO "+table)
			if err != nil {
				t.Fatalf("PrepareBatch: %v", err)
			}
			defer batch.Close()
			for id, v := range tt.in {
				if err := batch.Append(uint32(id), v); err != nil {
					t.Fatalf("Append(%v): %v", v, err)
				}
			}
			if err := batch.Send(); err != nil {
				t.Fatalf("Send: %v", err)
			}

			want := tt.want
			if want == nil {
				want = tt.in
			}
			rows, err := c.Query(ctx, "SELECT v FROM "+table+" ORDER BY id")
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			defer rows.Close()
			var got []any
			for rows.Next() {
				dest := reflect.New(reflect.TypeOf(want[0]))
				if err := rows.Scan(dest.Interface()); err != nil {
					t.Fatalf("Scan into %T: %v", dest.Interface(), err)
				}
				got = append(got, dest.Elem().Interface())
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("rows: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d rows, want %d", len(got), len(want))
			}
			for j := range want {
				if !sameValue(got[j], want[j]) {
					t.Errorf("row %d: got %#v, want %#v", j, got[j], want[j])
				}
			}
		})
	}
}

// sameValue compares exactly; times must be the same instant in a zone of the same name.
func sameValue(got, want any) bool {
	if w, ok := want.(time.Time); ok {
		g, ok := got.(time.Time)
		return ok && g.Equal(w) && g.Location().String() == w.Location().String()
	}
	return reflect.DeepEqual(got, want)
}
