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
	Offset int64  // byte offset where the status (or its line) starts
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
	dec := json.NewDecoder(br)
	index := 0
	emit := func(raw json.RawMessage, off int64) bool {
		rec := ArchiveRecord{Index: index, Offset: off, Raw: raw}
		index++
		if err := checkObject(raw); err != nil {
			return yield(rec, &BadRecordError{Record: rec, Err: err})
		}
		return yield(rec, nil)
	}
	for {
		off := base + dec.InputOffset()
		var top json.RawMessage
		if err := dec.Decode(&top); err == io.EOF {
			return
		} else if err != nil {
			yield(ArchiveRecord{Index: index, Offset: off}, fmt.Errorf("archive JSON broken at offset %d: %w", off, err))
			return
		}
		if top[0] != '[' {
			if !emit(top, off) {
				return
			}
			continue
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(top, &elems); err != nil {
			yield(ArchiveRecord{Index: index, Offset: off}, fmt.Errorf("archive array at offset %d: %w", off, err))
			return
		}
		// Element offsets inside the array are not tracked; the array's offset is given.
		for _, e := range elems {
			if !emit(e, off) {
				return
			}
		}
	}
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
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				yield(ArchiveRecord{Index: index, Line: lineNo + 1, Offset: offset}, fmt.Errorf("read archive line %d: %w", lineNo+1, err))
			}
			return
		}
		lineNo++
		rec := ArchiveRecord{Line: lineNo, Offset: offset, Raw: bytes.TrimSpace(line)}
		offset += int64(len(line))
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

func checkObject(raw []byte) error {
	if !json.Valid(raw) {
		return errors.New("not valid JSON")
	}
	if raw[0] != '{' {
		return fmt.Errorf("a status is a JSON object, not %.20s", raw)
	}
	return nil
}
