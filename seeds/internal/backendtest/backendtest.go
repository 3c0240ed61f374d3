// Package backendtest holds the test helpers that the tests of package
// seeds and of its sub-packages (seeds/mdns, seeds/multicast) share.
package backendtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// CheckLeaks fails t when a goroutine started during the test is still
// running at its end. Call it first in a test: the check is a t.Cleanup,
// and cleanups run last-registered first, so it runs after the test's own
// defers and after the cleanups registered later (such as an httptest
// server's Close).
func CheckLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		t.Helper()
		goleak.VerifyNone(t, opt)
	})
}

// Runner is seeds.Runner, named here so that the tests of package seeds
// itself can use this package without an import cycle.
type Runner interface {
	Start(ctx context.Context, self string) (wait func(), err error)
}

// StartRunner starts r's work for self and returns stop, which cancels it
// and waits for the work to end, failing t if Start fails or the work has
// not ended 5s after the cancel. stop runs at the end of the test too;
// calls after the first do nothing.
func StartRunner(t *testing.T, r Runner, self string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := r.Start(ctx, self)
	if err != nil {
		cancel()
		t.Fatalf("Start(%q): %v", self, err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			done := make(chan struct{})
			go func() { wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("Start(%q): the work did not stop within 5s of the cancel", self)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
