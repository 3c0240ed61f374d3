package seeds

import (
	"context"
	"sync"
	"testing"
	"time"
)

// startRunner starts r's work for self and returns stop, which cancels it
// and waits for the work to end, failing t if Start fails or the work has
// not ended 5s after the cancel. stop runs at the end of the test too;
// calls after the first do nothing.
func startRunner(t *testing.T, r Runner, self string) (stop func()) {
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
