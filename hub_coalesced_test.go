package gencluster

import (
	"context"
	"sync"
	"testing"
)

// TestHubCoalescedMonotonic: events merged for a slow reader are counted,
// and the count survives the subscriber's cancel.
func TestHubCoalescedMonotonic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	h := newHub(ctx, &wg)
	_, _, unsubscribe := h.subscribe() // never read
	for _, typ := range []EventType{EventJoin, EventUpdate, EventUpdate, EventUpdate} {
		h.publish(Event{Type: typ, Member: Member{Name: "a", Addr: "10.0.0.1:7946"}})
	}
	// At most one event is in flight to the reader; the rest coalesce.
	n := h.coalesced()
	if n < 2 {
		t.Fatalf("coalesced = %d after 4 events of one member to a reader that never reads, want at least 2", n)
	}
	unsubscribe()
	if got := h.coalesced(); got != n {
		t.Fatalf("coalesced = %d after the subscriber left, want %d (monotonic)", got, n)
	}
}
