package mastodon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
)

// ArchiveRecord is one status read from an archive.
type ArchiveRecord struct {
	Index  int    // 0-based position of the status in the archive
	Line   int    // 1-based line the status is on (JSON Lines); 0 in a JSON array file
	Offset int64  // byte offset where the status (or its line) starts; in an array, of the separator before it
	Raw    []byte // the status JSON as stored; pass it to ParseStatus
}

// Origin says where the record is, for dead letters: "line 12" or "offset 3456".
func (r ArchiveRecord) Origin() string {
	if r.Line > 0 {
		return fmt.Sprintf("line %d", r.Line)
	}
	return fmt.Sprintf("offset %d", r.Offset)
}

// BadRecordError is a record of the archive that is not a status object (a cut-off
// line, a number). Reading goes on after it; Raw holds what was read.
type BadRecordError struct {
	Record ArchiveRecord
	Err    error
}

func (e *BadRecordError) Error() string {
	return fmt.Sprintf("archive %s: %v", e.Record.Origin(), e.Err)
}

func (e *BadRecordError) Unwrap() error { return e.Err }

// ReadArchive reads saved statuses in either layout Mastodon tools write:
//
//   - a JSON array of statuses (a saved API response); several arrays or objects one
//     after another are read too;
//   - JSON Lines, one status per line. A line may also hold a whole array (one API
//     page per line). Mastodon escapes U+2028 and U+2029 inside strings, so lines
//     split only on '\n'; "\r\n" works too.
//
// It yields each status with a nil error. A record that is not a status object comes
// with a *BadRecordError, and reading continues. Any other error (the reader failed,
// or a JSON array is broken so that nothing after it can be trusted) is yielded once
// with the position reached and ends the sequence. The importer calls ParseStatus on
// each Raw with post.SourceImport.
func ReadArchive(r io.Reader) iter.Seq2[ArchiveRecord, error] {
	return func(yield func(ArchiveRecord, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		skipped, lines, err := skipLeadingSpace(br)
		if err == io.EOF {
			return
		}
		if err != nil {
			yield(ArchiveRecord{Offset: skipped}, fmt.Errorf("read archive: %w", err))
			return
		}
		first, _ := br.Peek(1)
		if first[0] == '[' {
			readArrays(br, skipped, yield)
			return
		}
		readLines(br, skipped, lines, yield)
	}
}

// skipLeadingSpace skips a byte order mark and whitespace, counting bytes and newlines.
func skipLeadingSpace(br *bufio.Reader) (n int64, newlines int, err error) {
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xEF\xBB\xBF")) {
		br.Discard(3)
		n = 3
	}
	for {
		b, err := br.Peek(1)
		if err != nil {
			return n, newlines, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			if b[0] == '\n' {
				newlines++
			}
			br.Discard(1)
			n++
		default:
			return n, newlines, nil
		}
	}
}

func readArrays(br *bufio.Reader, base int64, yield func(ArchiveRecord, error) bool) {
	// Elements are decoded one at a time, each within MaxLineBytes: a huge array, or one
	// endless string inside it, never sits in memory whole.
	budget := &budgetReader{r: br}
	dec := json.NewDecoder(budget)
	index := 0
	emit := func(raw json.RawMessage, off int64) bool {
		rec := ArchiveRecord{Index: index, Offset: off, Raw: raw}
		index++
		if err := checkObject(raw); err != nil {
			return yield(rec, &BadRecordError{Record: rec, Err: err})
		}
		return yield(rec, nil)
	}
	broken := func(off int64, err error) {
		if errors.Is(err, errLineTooLong) {
			err = fmt.Errorf("a status over %d bytes", MaxLineBytes)
		}
		yield(ArchiveRecord{Index: index, Offset: off}, fmt.Errorf("archive JSON broken at offset %d: %w", off, err))
	}
	for {
		off := base + dec.InputOffset()
		budget.reset()
		if !dec.More() {
			if _, err := dec.Token(); err != io.EOF {
				broken(off, fmt.Errorf("unexpected %v", err))
			}
			return
		}
		tok, err := dec.Token()
		if err != nil {
			broken(off, err)
			return
		}
		if tok != json.Delim('[') {
			// A value on its own at the top level: an object is rebuilt from its members.
			raw, err := restOfValue(dec, tok)
			if err != nil {
				broken(off, err)
				return
			}
			if !emit(raw, off) {
				return
			}
			continue
		}
		for dec.More() {
			eoff := base + dec.InputOffset()
			budget.reset()
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				broken(eoff, err)
				return
			}
			if !emit(raw, eoff) {
				return
			}
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			broken(base+dec.InputOffset(), err)
			return
		}
	}
}

// restOfValue returns the top-level value that starts with tok, as JSON: tok itself for a
// scalar, an object rebuilt member by member for '{'.
func restOfValue(dec *json.Decoder, tok json.Token) (json.RawMessage, error) {
	if tok != json.Delim('{') {
		return json.Marshal(tok)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := json.Marshal(key)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
		if b.Len() > MaxLineBytes {
			return nil, errLineTooLong
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// budgetReader fails with errLineTooLong once more than MaxLineBytes (and a buffer's
// worth) were read since the last reset.
type budgetReader struct {
	r    io.Reader
	read int
}

func (b *budgetReader) reset() { b.read = 0 }

func (b *budgetReader) Read(p []byte) (int, error) {
	left := MaxLineBytes + 1<<20 - b.read
	if left <= 0 {
		return 0, errLineTooLong
	}
	n, err := b.r.Read(p[:min(len(p), left)])
	b.read += n
	return n, err
}

func readLines(br *bufio.Reader, offset int64, lineNo int, yield func(ArchiveRecord, error) bool) {
	index := 0
	emit := func(rec ArchiveRecord) bool {
		rec.Index = index
		index++
		if err := checkObject(rec.Raw); err != nil {
			return yield(rec, &BadRecordError{Record: rec, Err: err})
		}
		return yield(rec, nil)
	}
	for {
		line, n, err := readLine(br)
		if n == 0 && err != nil {
			if err != io.EOF {
				yield(ArchiveRecord{Index: index, Line: lineNo + 1, Offset: offset}, fmt.Errorf("read archive line %d: %w", lineNo+1, err))
			}
			return
		}
		lineNo++
		rec := ArchiveRecord{Line: lineNo, Offset: offset, Raw: bytes.TrimSpace(line)}
		offset += n
		if errors.Is(err, errLineTooLong) {
			if !yield(rec, &BadRecordError{Record: rec, Err: fmt.Errorf("line over %d bytes", MaxLineBytes)}) {
				return
			}
			continue
		}
		var page []json.RawMessage
		switch {
		case len(rec.Raw) == 0:
		case rec.Raw[0] == '[' && json.Unmarshal(rec.Raw, &page) == nil:
			for _, raw := range page {
				rec.Raw = raw
				if !emit(rec) {
					return
				}
			}
		default:
			if !emit(rec) {
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			yield(ArchiveRecord{Index: index, Line: lineNo + 1, Offset: offset}, fmt.Errorf("read archive line %d: %w", lineNo+1, err))
			return
		}
	}
}

// MaxLineBytes bounds one line of a JSON Lines archive (a line may hold a whole API page).
const MaxLineBytes = 64 << 20

var errLineTooLong = errors.New("line too long")

// readLine reads the next line, "\n" included, and how many bytes it took. A line over
// MaxLineBytes comes back cut, with errLineTooLong, its rest read and dropped.
func readLine(br *bufio.Reader) ([]byte, int64, error) {
	var line []byte
	var n int64
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if len(line) < MaxLineBytes {
			line = append(line, chunk[:min(len(chunk), MaxLineBytes-len(line))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if n > MaxLineBytes && (err == nil || err == io.EOF) {
			return line, n, errLineTooLong
		}
		return line, n, err
	}
}

func checkObject(raw []byte) error {
	if !json.Valid(raw) {
		return errors.New("not valid JSON")
	}
	if raw[0] != '{' {
		return fmt.Errorf("a status is a JSON object, not %.20s", raw)
	}
	return nil
}
