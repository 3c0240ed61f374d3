package eventq

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/membership"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ev(typ membership.EventType, name, v string) membership.Event {
	return membership.Event{Type: typ, Member: membership.Member{Name: name, Meta: map[string]string{"v": v}}}
}

func recv(t *testing.T, c <-chan membership.Event) membership.Event {
	t.Helper()
	select {
	case e, ok := <-c:
		if !ok {
			t.Fatal("channel closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return membership.Event{}
}

func TestPushNeverBlocksAndCoalesces(t *testing.T) {
	q := New()
	// No Run, no reader: a million pushes for 10 members must return and
	// keep at most 10 pending.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100000 {
			q.Push(ev(membership.EventUpdate, fmt.Sprintf("m%d", i%10), fmt.Sprint(i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Push blocked without a reader")
	}
	if q.Len() != 10 {
		t.Fatalf("Len = %d, want 10 (one per member)", q.Len())
	}
	if q.Coalesced() != 100000-10 {
		t.Fatalf("Coalesced = %d", q.Coalesced())
	}
	ctx, cancel := context.WithCancel(context.Background())
	go q.Run(ctx)
	seen := map[string]string{}
	for range 10 {
		e := recv(t, q.C())
		seen[e.Member.Name] = e.Member.Meta["v"]
	}
	for i := range 10 {
		name := fmt.Sprintf("m%d", i)
		if want := fmt.Sprint(100000 - 10 + i); seen[name] != want {
			t.Errorf("%s: got v=%s, want the latest %s", name, seen[name], want)
		}
	}
	cancel()
	if _, ok := <-q.C(); ok {
		t.Fatal("C not closed after Run returned")
	}
}

func TestJoinThenUpdateStaysJoin(t *testing.T) {
	q := New()
	q.Push(ev(membership.EventJoin, "a", "1"))
	q.Push(ev(membership.EventUpdate, "a", "2"))
	q.Push(ev(membership.EventJoin, "b", "1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	if e := recv(t, q.C()); e.Type != membership.EventJoin || e.Member.Name != "a" || e.Member.Meta["v"] != "2" {
		t.Fatalf("got %v, want join of a with v=2", e)
	}
	if e := recv(t, q.C()); e.Member.Name != "b" {
		t.Fatalf("got %v, want b second (first-pending order)", e)
	}
}

func TestPerMemberOrder(t *testing.T) {
	q := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	// With a reader keeping up, every event of a member arrives in order.
	go func() {
		for i := range 1000 {
			q.Push(ev(membership.EventUpdate, "a", fmt.Sprintf("%04d", i)))
		}
	}()
	last := ""
	for last != "0999" {
		e := recv(t, q.C())
		if v := e.Member.Meta["v"]; v <= last {
			t.Fatalf("v=%s after %s: out of order", v, last)
		} else {
			last = v
		}
	}
}

func TestPushAfterCloseIsDropped(t *testing.T) {
	q := New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	cancel()
	<-done
	q.Push(ev(membership.EventJoin, "a", "1")) // must not panic or block
	if q.Len() != 0 {
		t.Fatalf("Len = %d after close", q.Len())
	}
}

// TestRestartIsNotCoalescedAway: a member's old life's fail and its new
// life's join (another BootID) both reach a reader that fell behind, in
// that order; later events of the new life coalesce into its join, and a
// new life that came and went unseen leaves the removal alone.
func TestRestartIsNotCoalescedAway(t *testing.T) {
	life := func(typ membership.EventType, boot membership.BootID) membership.Event {
		return membership.Event{Type: typ, Member: membership.Member{Name: "b", Boot: boot}}
	}
	q := New()
	q.Push(life(membership.EventJoin, 1))
	q.Push(life(membership.EventFail, 1))   // coalesces into the pending join: fail
	q.Push(life(membership.EventJoin, 2))   // another life: waits beside it
	q.Push(life(membership.EventUpdate, 2)) // coalesces into the join
	q.Push(membership.Event{Type: membership.EventJoin, Member: membership.Member{Name: "c"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	var got []string
	for range 3 {
		e := recv(t, q.C())
		got = append(got, fmt.Sprintf("%s %s %d", e.Type, e.Member.Name, e.Member.Boot))
	}
	want := "fail b 1,join b 2,join c 0"
	if s := fmt.Sprint(strings.Join(got, ",")); s != want {
		t.Fatalf("got %s, want %s", s, want)
	}
	cancel()
	<-done

	q = New()
	q.Push(life(membership.EventFail, 1))
	q.Push(life(membership.EventJoin, 2))
	q.Push(life(membership.EventFail, 2)) // the new life went unseen
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	if e := recv(t, q.C()); e.Type != membership.EventFail || e.Member.Boot != 1 {
		t.Fatalf("got %v boot %d, want the old life's fail", e, e.Member.Boot)
	}
	if q.Len() != 0 {
		t.Fatalf("Len = %d after the removal, want 0", q.Len())
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestDrainedQueueLetsItsStorageGo: a queue that held a burst (a cluster
// of 20000 forming while the reader was behind) and drained it does not
// keep a slot per member for the rest of its life (Go maps do not
// shrink).
func TestDrainedQueueLetsItsStorageGo(t *testing.T) {
	const burst = 20000
	names := make([]string, burst)
	for i := range names {
		names[i] = "member-" + strconv.Itoa(i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := New()
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	defer func() { cancel(); <-done }()
	before := heapInUse()
	for _, name := range names {
		q.Push(membership.Event{Type: membership.EventJoin, Member: membership.Member{Name: name}})
	}
	for range burst {
		recv(t, q.C())
	}
	if q.Len() != 0 {
		t.Fatalf("%d pending after the drain", q.Len())
	}
	kept := heapInUse() - before
	runtime.KeepAlive(q)
	runtime.KeepAlive(names)
	if kept > 256<<10 {
		t.Fatalf("the drained queue keeps %d KiB after a burst of %d members, want under 256 KiB", kept>>10, burst)
	}
}

// TestCoalescedEventKeepsTheLatestVersion: a merged event carries the
// version of the member's latest change, in every way events merge (an
// update into an update, an update into a join, a new life that came and
// went into the old life's removal), and members keep the order in which
// they became pending, so versions may arrive out of order.
func TestCoalescedEventKeepsTheLatestVersion(t *testing.T) {
	at := func(typ membership.EventType, name string, boot membership.BootID, v uint64) membership.Event {
		return membership.Event{Type: typ, Member: membership.Member{Name: name, Boot: boot}, Version: v}
	}
	q := New()
	q.Push(at(membership.EventJoin, "a", 1, 1))
	q.Push(at(membership.EventJoin, "b", 1, 2))
	q.Push(at(membership.EventUpdate, "a", 1, 3)) // join+update: join at 3
	q.Push(at(membership.EventFail, "c", 1, 4))
	q.Push(at(membership.EventJoin, "c", 2, 5))  // another life: waits beside the fail
	q.Push(at(membership.EventLeave, "c", 2, 6)) // and went unseen: the fail, at 6
	q.Push(at(membership.EventUpdate, "b", 1, 7))
	q.Push(at(membership.EventUpdate, "b", 1, 8)) // update+update: at 8
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	var got []string
	for range 3 {
		e := recv(t, q.C())
		got = append(got, fmt.Sprintf("%s %s@%d", e.Type, e.Member.Name, e.Version))
	}
	if s, want := strings.Join(got, ","), "join a@3,join b@8,fail c@6"; s != want {
		t.Fatalf("got %s, want %s", s, want)
	}
	cancel()
	<-done
}
