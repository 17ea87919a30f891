package chdb

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Version is the chDB release whose libchdb.so this package is written and tested against.
const Version = "26.7.3-stable.1"

// EnvLibrary names the environment variable that overrides where libchdb.so is loaded from.
const EnvLibrary = "CHATNIGHT_CHDB_LIB"

// fetchHint tells a user how to get the library; every "missing library" error ends with it.
const fetchHint = "run `make setup` or `scripts/fetch-libchdb.sh` to fetch it, or set " +
	EnvLibrary + " to the path of an existing libchdb.so"

// LibraryPath returns where libchdb.so is loaded from: $CHATNIGHT_CHDB_LIB when set, else the cache
// that scripts/fetch-libchdb.sh fills,
// ${CHATNIGHT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chatnight}/chdb/<Version>/libchdb.so.
// It fails when the file does not exist, saying how to fetch it. It does not load the library.
func LibraryPath() (string, error) {
	if p := os.Getenv(EnvLibrary); p != "" {
		if err := checkExists(p); err != nil {
			return "", fmt.Errorf("chdb: library %s (from $%s): %w; fix %s or unset it and %s",
				p, EnvLibrary, err, EnvLibrary, fetchHintShort)
		}
		return p, nil
	}
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "chdb", Version, "libchdb.so")
	if err := checkExists(p); err != nil {
		return "", fmt.Errorf("chdb: library %s: %w; %s", p, err, fetchHint)
	}
	return p, nil
}

const fetchHintShort = "run `make setup` or `scripts/fetch-libchdb.sh`"

// cacheDir mirrors the cache directory rule of scripts/fetch-libchdb.sh.
func cacheDir() (string, error) {
	if d := os.Getenv("CHATNIGHT_CACHE_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "chatnight"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("chdb: locate the libchdb cache: %w; set %s to the path of libchdb.so", err, EnvLibrary)
	}
	return filepath.Join(home, ".cache", "chatnight"), nil
}

func checkExists(p string) error {
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("not found")
	case err != nil:
		return err
	case st.IsDir():
		return errors.New("is a directory, not a shared library")
	}
	return nil
}

// lib holds the bound C functions of libchdb. Pointers are returned as unsafe.Pointer so that
// they are never held in a uintptr; all of them point to C memory.
type lib struct {
	path string

	setSignalHandlersEnabled func(enabled int32)
	version                  func() *byte
	connect                  func(argc int32, argv **byte) unsafe.Pointer
	closeConn                func(conn unsafe.Pointer)
	queryN                   func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr) unsafe.Pointer
	queryWithParamsN         func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr,
		names **byte, nameLens *uintptr, values **byte, valueLens *uintptr, count uintptr) unsafe.Pointer
	resultBuffer       func(res unsafe.Pointer) *byte
	resultLength       func(res unsafe.Pointer) uintptr
	resultError        func(res unsafe.Pointer) *byte
	resultRowsRead     func(res unsafe.Pointer) uint64
	resultRowsWritten  func(res unsafe.Pointer) uint64
	resultBytesWritten func(res unsafe.Pointer) uint64
	resultElapsed      func(res unsafe.Pointer) float64
	destroyQueryResult func(res unsafe.Pointer)

	streamInsertN       func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr) unsafe.Pointer
	streamAppend        func(stream unsafe.Pointer, data *byte, n uintptr) int32
	streamDone          func(stream unsafe.Pointer) unsafe.Pointer
	streamInsertError   func(stream unsafe.Pointer) *byte
	destroyInsertStream func(stream unsafe.Pointer)

	classifyQueryN func(conn unsafe.Pointer, sql *byte, sqlLen uintptr, target *byte, targetLen uintptr, out *queryAnalysis) int32
}

var (
	loadOnce   sync.Once
	loadedLib  *lib
	errLoadLib error
)

// loadLibrary loads libchdb.so once per process. The library cannot be unloaded (the engine keeps
// threads and global state), so the first outcome is final.
func loadLibrary() (*lib, error) {
	loadOnce.Do(func() {
		p, err := LibraryPath()
		if err != nil {
			errLoadLib = err
			return
		}
		loadedLib, errLoadLib = openLibrary(p)
	})
	return loadedLib, errLoadLib
}

// openLibrary dlopens path and binds the functions this package uses.
func openLibrary(path string) (*lib, error) {
	if err := checkELF(path); err != nil {
		return nil, corruptError(path, err)
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, corruptError(path, err)
	}
	l := &lib{path: path}
	syms := []struct {
		fn   any
		name string
	}{
		{&l.setSignalHandlersEnabled, "chdb_set_signal_handlers_enabled"},
		{&l.version, "chdb_version"},
		{&l.connect, "chdb_connect"},
		{&l.closeConn, "chdb_close_conn"},
		{&l.queryN, "chdb_query_n"},
		{&l.queryWithParamsN, "chdb_query_with_params_n"},
		{&l.resultBuffer, "chdb_result_buffer"},
		{&l.resultLength, "chdb_result_length"},
		{&l.resultError, "chdb_result_error"},
		{&l.resultRowsRead, "chdb_result_rows_read"},
		{&l.resultRowsWritten, "chdb_result_rows_written"},
		{&l.resultBytesWritten, "chdb_result_bytes_written"},
		{&l.resultElapsed, "chdb_result_elapsed"},
		{&l.destroyQueryResult, "chdb_destroy_query_result"},
		{&l.streamInsertN, "chdb_stream_insert_n"},
		{&l.streamAppend, "chdb_stream_append"},
		{&l.streamDone, "chdb_stream_done"},
		{&l.streamInsertError, "chdb_stream_insert_error"},
		{&l.destroyInsertStream, "chdb_destroy_insert_stream"},
		{&l.classifyQueryN, "chdb_classify_query_n"},
	}
	for _, s := range syms {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil {
			return nil, fmt.Errorf("chdb: library %s lacks %s (want chDB %s): %w; delete it and re-run `scripts/fetch-libchdb.sh`",
				path, s.name, Version, err)
		}
		purego.RegisterFunc(s.fn, addr)
	}
	// chDB's handlers for SIGSEGV and friends would replace the Go runtime's; keep them off.
	l.setSignalHandlersEnabled(0)
	return l, nil
}

func corruptError(path string, err error) error {
	return fmt.Errorf("chdb: cannot load %s (corrupt or incomplete download?): %w; delete it and re-run `scripts/fetch-libchdb.sh`",
		path, err)
}

// checkELF rejects a file that is not a complete ELF shared object for this machine before
// dlopen sees it: a truncated download would otherwise map past the end of the file and crash the
// process with SIGBUS on first use instead of returning an error.
func checkELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not a valid ELF shared library: %w", err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %v, want a shared library (ET_DYN)", f.Type)
	}
	if want, ok := elfMachine[runtime.GOARCH]; ok && f.Machine != want {
		return fmt.Errorf("built for %v, this process is %s", f.Machine, runtime.GOARCH)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	// scripts/fetch-libchdb.sh records the size of what it installed next to it.
	if stamp, err := os.ReadFile(path + ".ok"); err == nil {
		if want := strings.TrimSpace(string(stamp)); want != strconv.FormatInt(st.Size(), 10) {
			return fmt.Errorf("size %d differs from the %s bytes the fetch script recorded in %s.ok", st.Size(), want, filepath.Base(path))
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Off+p.Filesz > uint64(st.Size()) {
			return fmt.Errorf("truncated: a segment ends at byte %d but the file has %d", p.Off+p.Filesz, st.Size())
		}
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Offset+s.FileSize > uint64(st.Size()) {
			return fmt.Errorf("truncated: section %s ends at byte %d but the file has %d", s.Name, s.Offset+s.FileSize, st.Size())
		}
	}
	return nil
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
