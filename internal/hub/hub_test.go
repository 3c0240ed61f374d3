package hub

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/membership"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHubCoalescedMonotonic: events merged for a slow reader are counted,
// and the count survives the subscriber's cancel.
func TestHubCoalescedMonotonic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	h := New(ctx, &wg, nil)
	_, _, unsubscribe := h.Subscribe() // never read
	for i, typ := range []membership.EventType{membership.EventJoin, membership.EventUpdate, membership.EventUpdate, membership.EventUpdate} {
		// Each update changes the metadata: the view drops one that
		// changes nothing.
		m := membership.Member{Name: "a", Addr: "10.0.0.1:7946", Meta: map[string]string{"v": strconv.Itoa(i)}}
		h.Publish(membership.Event{Type: typ, Member: m})
	}
	// At most one event is in flight to the reader; the rest coalesce.
	n := h.Coalesced()
	if n < 2 {
		t.Fatalf("coalesced = %d after 4 events of one member to a reader that never reads, want at least 2", n)
	}
	unsubscribe()
	if got := h.Coalesced(); got != n {
		t.Fatalf("coalesced = %d after the subscriber left, want %d (monotonic)", got, n)
	}
}

// TestSubscribeRacingClose: subscribers that arrive while the owner closes
// the hub and waits for its goroutines neither start a pump after the Wait
// began (a WaitGroup misuse that panics) nor get a stream that stays open.
func TestSubscribeRacingClose(t *testing.T) {
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		h := New(ctx, &wg, nil)
		var subs sync.WaitGroup
		for range 4 {
			subs.Go(func() {
				_, q, unsubscribe := h.Subscribe()
				defer unsubscribe()
				if ctx.Err() != nil {
					for range q.C() { // must close
					}
				}
			})
		}
		cancel()
		h.Close()
		wg.Wait()
		subs.Wait()
	}
}
