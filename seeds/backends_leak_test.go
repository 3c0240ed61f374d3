package seeds

import (
	"testing"

	"go.uber.org/goleak"
)

// checkBackendLeaks returns a function, to be deferred, that fails t when a
// goroutine started during the test is still running at its end:
//
//	defer checkBackendLeaks(t)()
func checkBackendLeaks(t *testing.T) func() {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	return func() {
		t.Helper()
		goleak.VerifyNone(t, opt)
	}
}
