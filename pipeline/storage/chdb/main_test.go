package chdb

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/chatnight/chatnight/pipeline/storage/chdb/persisttest"
)

var shared struct {
	once sync.Once
	dir  string
	conn *Conn
	err  error
}

func TestMain(m *testing.M) {
	persisttest.Child(runHelper)
	// No skipping: without the library these tests fail, saying how to get it.
	if _, err := LibraryPath(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the chdb tests need libchdb:", err)
		os.Exit(1)
	}
	code := m.Run()
	if shared.conn != nil {
		shared.conn.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// testConn returns the connection the tests of this package share: chDB runs one engine per
// process, so they all use one data directory.
func testConn(t testing.TB) *Conn {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "chdb-test-")
		if shared.err == nil {
			shared.conn, shared.err = Open(shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("open the shared test engine: %v", shared.err)
	}
	return shared.conn
}

// mustRun runs sql on c and fails the test on error.
func mustRun(t testing.TB, c *Conn, sql string) string {
	t.Helper()
	out, err := c.Query(sql, "TabSeparated")
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return string(out)
}
