package endpoint

import (
	"bytes"
	"strings"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// nativeQuery is a query whose Native output covers the types chatnight stores and more.
const nativeQuery = `SELECT
	number AS n, toString(number) AS s, toLowCardinality(toString(number % 3)) AS lc,
	toDateTime64('2299-12-31 00:00:00.001', 3, 'UTC') + number AS far, toDateTime(number, 'UTC') AS dt,
	toDate(number) AS d, [toString(number), 'x'] AS arr, map('k', number) AS m,
	if(number % 2 = 0, NULL, toString(number)) AS ns, tuple(toString(number), 'b') AS tup,
	[tuple('a', toString(number))] AS atup, generateUUIDv4() AS u, toFixedString('ab', 2) AS fs,
	toDecimal64(number, 4) AS dec, CAST(number % 2 + 1 AS Enum8('a' = 1, 'b' = 2)) AS e,
	[[number], []] AS nested, toLowCardinality(toNullable(toString(number))) AS lcn
FROM numbers(5000)`

// TestTranscodeNative checks that re-encoding chDB's revision-0 Native is lossless (decoding the
// result as the client does and encoding it back as revision 0 gives chDB's bytes), and that data
// cut inside a block is an error, not fewer rows.
func TestTranscodeNative(t *testing.T) {
	raw, err := env.conn.Query(nativeQuery+" SETTINGS max_block_size = 1000", "Native")
	if err != nil {
		t.Fatal(err)
	}
	const rev = 54460
	got, err := transcodeNative(raw, rev, time.UTC)
	if err != nil {
		t.Fatalf("transcode: %v", err)
	}
	back, blocks := decodeBlocks(t, got, rev)
	if blocks < 2 {
		t.Fatalf("want several blocks, got %d", blocks)
	}
	if !bytes.Equal(back, raw) {
		t.Fatalf("transcoding is lossy: %d bytes back, %d from the engine", len(back), len(raw))
	}

	cuts := []struct {
		name string
		data []byte
	}{
		{"inside the first block", raw[:len(raw)/3]},
		{"one byte short", raw[:len(raw)-1]},
		{"garbage after the last block", append(append([]byte{}, raw...), 0x05)},
	}
	for _, c := range cuts {
		t.Run(c.name, func(t *testing.T) {
			if _, err := transcodeNative(c.data, rev, time.UTC); err == nil || !strings.Contains(err.Error(), "decode Native block") {
				t.Fatalf("transcode of cut data: %v, want a decode error", err)
			}
		})
	}
	if out, err := transcodeNative(nil, rev, time.UTC); err != nil || len(out) != 0 {
		t.Fatalf("empty result: %q, %v", out, err)
	}
}

// decodeBlocks decodes Native data of revision rev and re-encodes it as revision 0.
func decodeBlocks(t *testing.T, data []byte, rev uint64) ([]byte, int) {
	t.Helper()
	r := chproto.NewReader(bytes.NewReader(data))
	var out chproto.Buffer
	n := 0
	for consumed := 0; consumed < len(data); n++ {
		block := proto.Block{ServerContext: &column.ServerContext{Timezone: time.UTC}}
		if err := block.Decode(r, rev); err != nil {
			t.Fatalf("decode block %d: %v", n, err)
		}
		var enc chproto.Buffer
		if err := block.Encode(&enc, rev); err != nil {
			t.Fatal(err)
		}
		consumed += len(enc.Buf)
		if err := block.Encode(&out, 0); err != nil {
			t.Fatal(err)
		}
	}
	return out.Buf, n
}
