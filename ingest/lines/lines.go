// Package lines reads newline-delimited records of bounded length: archive files and
// streamed API responses, whose lines can be hundreds of kilobytes and whose input may
// hold a line of any length.
package lines

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrTooLong reports a line longer than the limit; the line comes back cut to it.
var ErrTooLong = errors.New("line too long")

// Read returns the next line without its "\n" or "\r\n", in a slice of its own. A line
// over limit comes back cut to limit with ErrTooLong and its rest is skipped (a read
// error other than io.EOF inside it comes back instead). A last line without "\n"
// comes with the read error (io.EOF at the end of input).
func Read(br *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > limit {
			if len(buf) < limit {
				buf = append(buf, chunk[:limit-len(buf)]...)
			}
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return buf, err
			}
			return buf, ErrTooLong
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return buf, err
		}
		return bytes.TrimRight(buf, "\r\n"), nil
	}
}
