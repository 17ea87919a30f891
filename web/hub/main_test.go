package hub

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine running: each hub, room,
// client pump and NATS server a test starts must be stopped by it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
