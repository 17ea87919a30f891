package bluesky

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every goroutine a source starts is gone when its test ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
