package lines

import (
	"bufio"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := "short\r\n\r\n" + strings.Repeat("x", 300) + "\nnext\nlast-no-newline"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	var got []string
	var errs []error
	for {
		line, err := Read(br, 100)
		got = append(got, string(line))
		errs = append(errs, err)
		if err != nil && err != ErrTooLong {
			break
		}
	}
	want := []string{"short", "", strings.Repeat("x", 100), "next", "last-no-newline"}
	if !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	if errs[2] != ErrTooLong || errs[4] == nil || errs[3] != nil {
		t.Fatalf("errs = %v", errs)
	}
}

func TestReadOverlongLastLine(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader(strings.Repeat("y", 50)), 16)
	if line, err := Read(br, 10); len(line) != 10 || err != ErrTooLong {
		t.Fatalf("over-long last line: %q, %v", line, err)
	}
	if _, err := Read(br, 10); err != io.EOF {
		t.Fatalf("after it: %v, want EOF", err)
	}
}
