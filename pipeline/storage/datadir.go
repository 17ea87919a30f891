// The data dir: checks on the directory where the embedded NATS and ClickHouse keep
// their data, so /readyz can say a full disk is coming before writes start failing.
package storage

import (
	"fmt"
	"syscall"
)

// MinFree is the free space below which a tier reports itself not ready.
const MinFree = 64 << 20

// Free returns the bytes available to this process in the file system holding dir.
func Free(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// CheckFree reports an error saying what to do when dir has less than min bytes free.
func CheckFree(dir string, min uint64) error {
	free, err := Free(dir)
	if err != nil {
		return err
	}
	if free < min {
		return fmt.Errorf("only %d MiB free in the data dir %s (need %d MiB): free space or move --data-dir", free>>20, dir, min>>20)
	}
	return nil
}
