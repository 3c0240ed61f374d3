package meshdist

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// goroutine of a Dist ends with Leave or Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
