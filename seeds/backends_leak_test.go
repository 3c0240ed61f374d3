package seeds

import (
	"testing"

	"go.uber.org/goleak"
)

// checkBackendLeaks fails t when a goroutine started during the test is
// still running at its end. Call it first in a test: the check is a
// t.Cleanup, and cleanups run last-registered first, so it runs after the
// test's own defers and after the cleanups registered later (such as an
// httptest server's Close).
func checkBackendLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		t.Helper()
		goleak.VerifyNone(t, opt)
	})
}
