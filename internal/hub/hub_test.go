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

// TestSubscribeAtReadsTheVersionWithTheSnapshot: the version comes with
// the snapshot it describes, and the queue's first event is the next one.
func TestSubscribeAtReadsTheVersionWithTheSnapshot(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	h := New(ctx, &wg, nil)
	for _, name := range []string{"a", "b"} {
		h.Publish(membership.Event{Type: membership.EventJoin, Member: membership.Member{Name: name}})
	}
	snap, version, q, unsubscribe := h.SubscribeAt()
	defer unsubscribe()
	if len(snap) != 2 || version != 2 {
		t.Fatalf("snapshot %v at %d, want a, b at 2", snap, version)
	}
	h.Publish(membership.Event{Type: membership.EventLeave, Member: membership.Member{Name: "a"}})
	if ev := <-q.C(); ev.Version != 3 || ev.Member.Name != "a" {
		t.Fatalf("first event %v at %d, want a's leave at 3", ev, ev.Version)
	}
}

// TestGoAfterCloseStartsNothing: once the hub is closed, Go refuses, so
// that a goroutine never joins a WaitGroup being waited for.
func TestGoAfterCloseStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	h := New(ctx, &wg, nil)
	ran := make(chan struct{})
	if !h.Go(func() { close(ran) }) {
		t.Fatal("Go refused on an open hub")
	}
	<-ran
	cancel()
	h.Close()
	wg.Wait()
	if h.Go(func() { t.Error("ran after Close") }) {
		t.Fatal("Go accepted after Close")
	}
}

// TestSubscribersShareNoMeta: every subscriber may change the Meta of the
// events it receives without another subscriber (the Node's Ownership
// reads Meta while the user's Events() reader runs) seeing it.
func TestSubscribersShareNoMeta(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	h := New(ctx, &wg, nil)
	var qs []<-chan membership.Event
	for range 3 {
		_, q, unsubscribe := h.Subscribe()
		defer unsubscribe()
		qs = append(qs, q.C())
	}
	h.Publish(membership.Event{Type: membership.EventJoin, Member: membership.Member{Name: "a", Addr: "10.0.0.1:7946", Meta: map[string]string{"zone": "z1"}}})
	var evs []membership.Event
	for _, c := range qs {
		evs = append(evs, <-c)
	}
	evs[0].Member.Meta["zone"] = "changed by the first reader"
	for i, ev := range evs[1:] {
		if got := ev.Member.Meta["zone"]; got != "z1" {
			t.Errorf("subscriber %d sees zone %q after another subscriber changed its copy, want z1", i+2, got)
		}
	}
}
