package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDataDir takes the data dir for this process before any embedded service opens
// it, so a second chatnight on the same dir stops at once, touching nothing, and says
// what to do. The lock is released when the process (or close) lets go of the file.
func (s *stack) lockDataDir(dir string) error {
	if s.lockedDir != "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w; pass --data-dir with a directory this user can write", err)
	}
	path := filepath.Join(dir, "chatnight.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("data dir: %w; pass --data-dir with a directory this user can write", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, _ := os.ReadFile(path); len(b) > 0 {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("data dir %s is in use by another chatnight%s: stop it, pass --data-dir to use another directory, "+
				"or reach the running one with --nats-url and --clickhouse-dsn", dir, holder)
		}
		return fmt.Errorf("lock data dir %s: %w", dir, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	s.lockedDir = dir
	s.closers = append(s.closers, func() { f.Close() })
	return nil
}
