package endpoint

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// spoolMemory is how much of an insert body is kept in memory; beyond it the body goes to a
// temporary file.
const spoolMemory = 4 << 20

// spooled is an insert body read to the end before the engine is asked to take it, so that a slow
// client never holds the engine connection, which serves one statement at a time.
type spooled struct {
	io.Reader
	file *os.File
	size int64
}

// spool reads r to the end into memory or, past spoolMemory bytes, into a file in dir.
func spool(r io.Reader, dir string) (*spooled, error) {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, spoolMemory+1)
	switch {
	case err == io.EOF:
		return &spooled{Reader: bytes.NewReader(buf.Bytes()), size: n}, nil
	case err != nil:
		return nil, fmt.Errorf("read insert data: %w", err)
	}
	f, err := os.CreateTemp(dir, "chatnight-insert-*")
	if err != nil {
		return nil, fmt.Errorf("spool insert data: %w", err)
	}
	s := &spooled{Reader: f, file: f}
	if _, err := f.Write(buf.Bytes()); err != nil {
		s.Close()
		return nil, fmt.Errorf("spool insert data to %s: %w", f.Name(), err)
	}
	rest, err := io.Copy(f, r)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("read insert data: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.Close()
		return nil, fmt.Errorf("spool insert data to %s: %w", f.Name(), err)
	}
	s.size = n + rest
	return s, nil
}

// Close removes the temporary file, if there is one.
func (s *spooled) Close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}
