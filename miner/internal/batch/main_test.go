package batch

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a worker goroutine running:
// every test must Close its batcher.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
