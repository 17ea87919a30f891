package endpoint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// chDB writes Native output as revision 0: no BlockInfo before each block and no
// custom-serialization flag per column. A client that sent client_protocol_version expects both,
// as a ClickHouse server would write them, so the endpoint re-encodes every block with
// clickhouse-go's own block codec, which knows every type clickhouse-go can read.

// transcodeNative re-encodes revision-0 Native data for a client reading revision rev.
// Decoding stops only at a clean end of the data: an error inside a block is returned, so that
// the client gets an error instead of silently fewer rows.
func transcodeNative(data []byte, rev uint64, tz *time.Location) ([]byte, error) {
	if rev == 0 || len(data) == 0 {
		return data, nil
	}
	// proto.NewReader keeps a *bufio.Reader that is at least as large as its own buffer instead
	// of wrapping it again, so Peek on br tells whether any data is left.
	br := bufio.NewReaderSize(bytes.NewReader(data), 1<<20)
	r := chproto.NewReader(br)
	out := &chproto.Buffer{Buf: make([]byte, 0, len(data)+len(data)/8+64)}
	for n := 0; ; n++ {
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			return out.Buf, nil
		}
		block := proto.Block{ServerContext: &column.ServerContext{Timezone: tz}}
		if err := block.Decode(r, 0); err != nil {
			return nil, fmt.Errorf("decode Native block %d from the engine: %w", n, err)
		}
		if err := block.Encode(out, rev); err != nil {
			return nil, fmt.Errorf("encode Native block %d for protocol revision %d: %w", n, rev, err)
		}
	}
}
