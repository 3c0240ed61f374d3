package mdns

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine is left running
// after them (browses, responders, context.AfterFunc callbacks).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
