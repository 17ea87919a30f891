package chdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// ErrClosed is returned by every method of a closed Conn.
var ErrClosed = errors.New("chdb: connection closed")

// engine is the one chDB engine a process can run. chDB keeps its storage path, caches and threads
// in process-wide state: every connection shares the data directory of the connection that booted
// the engine, and closing the last connection shuts the engine down (see Open).
var engine struct {
	mu      sync.Mutex
	dataDir string // absolute data directory of the running engine
	open    int    // connections currently open
}

// Conn is one chDB connection. All its methods are safe for concurrent use: statements run one at a
// time, in the order the callers get the connection's lock, because a chDB connection executes
// one statement at a time.
type Conn struct {
	lib      *lib
	dataDir  string
	settings map[string]string // connection settings given to Open*, the session's baseline

	sem      chan struct{}     // a one-slot semaphore held around every call into chDB
	handle   unsafe.Pointer    // chdb_connection*; nil once closed
	database string            // current database of the session
	applied  map[string]string // settings a statement set on the session, to undo for the next one
}

// Open boots the embedded engine with its storage in dataDir (created if missing) and connects to
// it. libchdb.so is loaded on the first call (see LibraryPath), never before.
//
// The session time zone is UTC whatever the host's (session_timezone=UTC), so DateTime values
// without a zone of their own read and write as UTC, as on a ClickHouse server run in UTC.
//
// chDB runs one engine per process: a second Open for the same directory returns another
// connection (with its own session) to the running engine, one for a different directory fails
// while any connection is open. Closing the last connection shuts the engine down, flushing it to
// dataDir; a later Open boots it again (about 30 ms once the library is loaded). chDB warns that
// many boot and shutdown cycles in one process are fragile, so keep a connection open for as long
// as the process needs the store.
func Open(dataDir string) (*Conn, error) {
	return open(dataDir, nil)
}

// OpenWithSettings is Open for a connection whose session starts with the given ClickHouse
// settings (name to value), such as max_execution_time or session_timezone. A Statement's own
// Settings override them for that statement only.
//
// With readonly=1 the engine refuses every write, DDL statement, table function that reaches
// outside the engine (file, url, ...) and every change of a setting away from its connection
// value, so statements on such a connection cannot override settings. readonly=2 allows
// changing settings and table functions but still refuses writes and DDL.
func OpenWithSettings(dataDir string, settings map[string]string) (*Conn, error) {
	return open(dataDir, settings)
}

func open(dataDir string, settings map[string]string) (*Conn, error) {
	if dataDir == "" {
		return nil, errors.New("chdb: open: empty data directory")
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("chdb: open %s: %w", dataDir, err)
	}
	settings = maps.Clone(settings)
	if settings == nil {
		settings = map[string]string{}
	}
	if _, ok := settings["session_timezone"]; !ok {
		settings["session_timezone"] = "UTC"
	}
	args := []string{"chatnight", "--path=" + abs}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if !settingNameRe.MatchString(k) {
			return nil, fmt.Errorf("chdb: open %s: invalid setting name %q", abs, k)
		}
		args = append(args, "--"+k+"="+settings[k])
	}
	if err := checkDataDir(abs); err != nil {
		return nil, err
	}
	l, err := loadLibrary()
	if err != nil {
		return nil, err
	}

	engine.mu.Lock()
	defer engine.mu.Unlock()
	if engine.open > 0 && engine.dataDir != abs {
		return nil, fmt.Errorf("chdb: open %s: this process already runs chDB on %s, and chDB supports one data directory per process "+
			"(close every connection to it first)", abs, engine.dataDir)
	}

	h, err := connect(l, args)
	if err != nil {
		return nil, fmt.Errorf("chdb: open %s: %w", abs, err)
	}
	engine.dataDir = abs
	engine.open++
	return &Conn{
		lib:      l,
		dataDir:  abs,
		settings: settings,
		sem:      make(chan struct{}, 1),
		handle:   h,
		database: "default",
	}, nil
}

// checkDataDir creates dir and proves it writable, so that a bad directory fails with its name
// rather than with an engine error from deep inside the boot.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("chdb: create data directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".chatnight-write-check-*")
	if err != nil {
		return fmt.Errorf("chdb: data directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func connect(l *lib, args []string) (unsafe.Pointer, error) {
	cargs := make([][]byte, len(args))
	argv := make([]*byte, len(args)+1)
	for i, a := range args {
		cargs[i] = append([]byte(a), 0)
		argv[i] = &cargs[i][0]
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	for _, b := range cargs {
		pin.Pin(&b[0])
	}
	pin.Pin(&argv[0])
	h := l.connect(int32(len(args)), &argv[0])
	if h == nil {
		return nil, fmt.Errorf("chdb_connect(%s) failed (see the engine's messages on stderr)", strings.Join(args[1:], " "))
	}
	return h, nil
}

// DataDir returns the absolute data directory of the engine.
func (c *Conn) DataDir() string { return c.dataDir }

// LibraryVersion returns the version libchdb reports about itself.
func (c *Conn) LibraryVersion() string { return goString(c.lib.version()) }

// Close closes the connection. Closing the last connection of the process shuts the engine down.
func (c *Conn) Close() error {
	c.sem <- struct{}{}
	defer c.unlock()
	if c.handle == nil {
		return nil
	}
	engine.mu.Lock()
	defer engine.mu.Unlock()
	c.lib.closeConn(c.handle)
	c.handle = nil
	engine.open--
	return nil
}

// conn returns the chdb_connection the handle points to. The caller holds the lock.
func (c *Conn) conn() (unsafe.Pointer, error) {
	if c.handle == nil {
		return nil, ErrClosed
	}
	return *(*unsafe.Pointer)(c.handle), nil
}

// lock takes the connection's lock, giving up when ctx ends first.
func (c *Conn) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("chdb: wait for the connection: %w", context.Cause(ctx))
	}
}

func (c *Conn) unlock() { <-c.sem }
