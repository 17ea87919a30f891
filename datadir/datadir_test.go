package datadir

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	free, err := Free(dir)
	if err != nil || free == 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
	if err := Check(dir, 1); err != nil {
		t.Errorf("Check with 1 byte needed: %v", err)
	}
	err = Check(dir, free+1<<40)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("Check with more than the disk: %v", err)
	}
	if _, err := Free(dir + "/missing"); err == nil {
		t.Error("Free of a missing directory has no error")
	}
}
