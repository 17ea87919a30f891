package storage

import (
	"strings"
	"testing"
)

func TestCheckFree(t *testing.T) {
	dir := t.TempDir()
	free, err := Free(dir)
	if err != nil || free == 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
	if err := CheckFree(dir, 1); err != nil {
		t.Errorf("Check with 1 byte needed: %v", err)
	}
	err = CheckFree(dir, free+1<<40)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("Check with more than the disk: %v", err)
	}
	if _, err := Free(dir + "/missing"); err == nil {
		t.Error("Free of a missing directory has no error")
	}
}
