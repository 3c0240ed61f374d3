package dockertest

import (
	"bytes"
	"sync"
)

// LockedBuffer collects the output of a process a test started (a DNS
// server, a node program) for the test log: the process writes from its
// own goroutines while the test reads.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
