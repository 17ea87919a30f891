package endpoint

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	chcompress "github.com/ClickHouse/ch-go/compress"
	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression, as the ClickHouse HTTP interface offers it, all implemented:
//   - Content-Encoding on the request body: gzip, deflate, br, zstd, lz4.
//   - decompress=1: the request body is in ClickHouse's compressed block framing (LZ4 or ZSTD
//     blocks with CityHash checksums), as clickhouse-go sends with Compression LZ4 or ZSTD.
//   - compress=1: the response is in that framing, with network_compression_method (LZ4 by
//     default, ZSTD, LZ4HC) and network_zstd_compression_level.
//   - enable_http_compression=1 with Accept-Encoding: the response is compressed with the first
//     of gzip, deflate, br, zstd, lz4 the client accepts, and Content-Encoding says which.
// Any other Content-Encoding is refused with an error that lists these.

var httpEncodings = []string{"gzip", "deflate", "br", "zstd", "lz4"}

// decodeBody undoes the request's Content-Encoding and, with decompress=1, the block framing.
func decodeBody(body io.Reader, contentEncoding string, blocks bool) (io.Reader, func(), error) {
	closeFn := func() {}
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	switch enc {
	case "", "identity", "none":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, nil, requestError(codeCannotDecompress, "read gzip request body: %v", err)
		}
		body = zr
	case "deflate":
		zr, err := zlib.NewReader(body)
		if err != nil {
			return nil, nil, requestError(codeCannotDecompress, "read deflate request body: %v", err)
		}
		body = zr
	case "br":
		body = brotli.NewReader(body)
	case "zstd":
		zr, err := zstd.NewReader(body)
		if err != nil {
			return nil, nil, requestError(codeCannotDecompress, "read zstd request body: %v", err)
		}
		body, closeFn = zr, zr.Close
	case "lz4":
		body = lz4.NewReader(body)
	default:
		return nil, nil, requestError(codeUnknownCompressionMethod,
			"Unknown Content-Encoding %q: the embedded ClickHouse endpoint supports %s", contentEncoding, strings.Join(httpEncodings, ", "))
	}
	if blocks {
		body = cleanEOF{chcompress.NewReader(body)}
	}
	return body, closeFn, nil
}

// cleanEOF turns a wrapped io.EOF (ch-go wraps the one at the end of the last block) into
// io.EOF itself, which io.Copy and friends take for the end of the data.
type cleanEOF struct{ r io.Reader }

func (c cleanEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		err = requestError(codeCannotDecompress, "read compressed request body (decompress=1): %v", err)
	}
	return n, err
}

// blockCompress frames data in ClickHouse compressed blocks (compress=1).
func blockCompress(data []byte, method string, level string) ([]byte, error) {
	m := chcompress.LZ4
	if method != "" {
		var err error
		if m, err = chcompress.MethodString(strings.ToUpper(method)); err != nil || m == chcompress.None {
			return nil, requestError(codeUnknownCompressionMethod, "Unknown network_compression_method %q: use LZ4, LZ4HC or ZSTD", method)
		}
	}
	var lvl chcompress.Level
	if level != "" {
		n, err := strconv.ParseUint(level, 10, 32)
		if err != nil {
			return nil, requestError(codeCannotParseInput, "network_zstd_compression_level %q is not a number", level)
		}
		lvl = chcompress.Level(n)
	}
	w := chcompress.NewWriter(lvl, m)
	const chunk = 1 << 20
	out := make([]byte, 0, len(data)/2+64)
	for len(data) > 0 {
		n := min(len(data), chunk)
		if err := w.Compress(data[:n]); err != nil {
			return nil, fmt.Errorf("compress response: %w", err)
		}
		out = append(out, w.Data...)
		data = data[n:]
	}
	return out, nil
}

// negotiateEncoding picks the response Content-Encoding from Accept-Encoding, or "": the first
// encoding the client lists that the endpoint knows, unless the client gave it q=0.
func negotiateEncoding(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if w, err := strconv.ParseFloat(q, 64); err == nil && w == 0 {
				continue
			}
		}
		if slices.Contains(httpEncodings, name) {
			return name
		}
	}
	return ""
}

// httpCompress compresses data with the Content-Encoding enc.
func httpCompress(data []byte, enc string) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			return nil, fmt.Errorf("compress response: %w", err)
		}
		w = zw
	case "lz4":
		w = lz4.NewWriter(&buf)
	default:
		return data, nil
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("compress response (%s): %w", enc, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress response (%s): %w", enc, err)
	}
	return buf.Bytes(), nil
}
