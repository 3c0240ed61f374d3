package gossip

import (
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/internal/view"
	"github.com/gencluster/gencluster/membership"
)

// TestDoubtWindow: the window is memberlist's longest suspicion at the
// cluster's size, or GossipToTheDeadTime if longer, plus a hold's time.
func TestDoubtWindow(t *testing.T) {
	lan := doubtTimers{probe: time.Second, gossipToTheDead: 30 * time.Second, hold: 6 * time.Second, suspicionMult: 4, maxMult: 6}
	for _, c := range []struct {
		t    doubtTimers
		n    int
		want time.Duration
	}{
		{lan, 8, 36 * time.Second},    // 4 x 6 x 1 s = 24 s < 30 s
		{lan, 1000, 78 * time.Second}, // 4 x 6 x 3 x 1 s = 72 s
		{doubtTimers{probe: 300 * time.Millisecond, gossipToTheDead: 2 * time.Second, hold: 2600 * time.Millisecond, suspicionMult: 4, maxMult: 6}, 8, 9800 * time.Millisecond},
		{doubtTimers{}, 8, 0},
	} {
		if got := c.t.window(c.n); got != c.want {
			t.Errorf("%+v at n=%d: window %v, want %v", c.t, c.n, got, c.want)
		}
	}
}

// TestDoubtedRemovals: in a quiet cluster a failure is reported at once;
// for a window after it, a failure is held (and dropped if the same life
// refutes it) while a leave is not; past the window failures are reported
// at once again; a gone member's return opens the window too.
func TestDoubtedRemovals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{}
		d := testDelegate(s, nil)
		// A window of 1 s + 1 s at any size below 10.
		d.doubt = doubtTimers{probe: 100 * time.Millisecond, gossipToTheDead: time.Second, hold: time.Second, suspicionMult: 1, maxMult: 1}
		var holds []*heldEvent
		d.onHold = func(_ membership.Member, h *heldEvent) { holds = append(holds, h) }
		a, b, c, e := lifeNode(t, "a", "10.0.0.1", 1, nil), lifeNode(t, "b", "10.0.0.2", 2, nil), lifeNode(t, "c", "10.0.0.3", 3, nil), lifeNode(t, "e", "10.0.0.5", 5, nil)
		for _, n := range []*memberlist.Node{a, b, c, e} {
			d.NotifyJoin(n)
		}
		const joined = "join a 0000000000000001 alive,join b 0000000000000002 alive,join c 0000000000000003 alive,join e 0000000000000005 alive"

		d.NotifyLeave(a) // the first failure: reported at once
		if got, want := s.summary(), joined+",fail a 0000000000000001 failed"; got != want || len(holds) != 0 {
			t.Fatalf("events %s with %d holds, want %s and none held", got, len(holds), want)
		}

		time.Sleep(time.Second) // within the window a failure opened
		d.NotifyLeave(b)
		if len(holds) != 1 || holds[0].ev.Member.Name != "b" {
			t.Fatalf("%d holds, want b's failure held", len(holds))
		}
		if _, ok := d.view.Member("b"); !ok {
			t.Fatal("b left the members while its failure is held")
		}
		d.NotifyJoin(b) // b refuted it
		d.releaseHeld("b", holds[0])
		if got := s.summary(); got != joined+",fail a 0000000000000001 failed" {
			t.Fatalf("events %s: b's refuted failure was reported", got)
		}

		d.NotifyMsg(leavingMsg("c", 3)) // a leave is never doubted
		d.NotifyLeave(c)
		if got, want := s.summary(), joined+",fail a 0000000000000001 failed,leave c 0000000000000003 left"; got != want || len(holds) != 1 {
			t.Fatalf("events %s with %d holds, want %s", got, len(holds), want)
		}

		time.Sleep(2*time.Second + time.Millisecond) // past the window b's failure opened
		d.NotifyLeave(e)
		if got, want := s.summary(), joined+",fail a 0000000000000001 failed,leave c 0000000000000003 left,fail e 0000000000000005 failed"; got != want || len(holds) != 1 {
			t.Fatalf("events %s with %d holds, want e's failure reported at once", got, len(holds))
		}

		time.Sleep(3 * time.Second) // past that window too
		d.NotifyJoin(a)             // a gone member comes back: a window opens
		time.Sleep(time.Second)
		d.NotifyLeave(b)
		if len(holds) != 2 || holds[1].ev.Member.Name != "b" {
			t.Fatalf("%d holds after a's return, want b's failure held", len(holds))
		}
		d.releaseHeld("b", holds[1]) // not refuted: reported
		if !s.has(membership.EventFail, "b") {
			t.Fatalf("events %s: b's failure not reported on release", s.summary())
		}
	})
}

// TestHeldRemovalAsksTheMember: a held removal of a member that stopped is
// reported as soon as its ping goes unanswered, before the hold ends; one
// of a member that answers stays held until the hold ends.
func TestHeldRemovalAsksTheMember(t *testing.T) {
	s := &sink{}
	logs := &recordHandler{}
	// A probe interval of 1 s makes the hold 2 x 1 s + 20 x 20 ms = 2.4 s,
	// against a ProbeTimeout of 100 ms.
	a, err := Start(Config{Name: "a", BindAddr: "127.0.0.1:0", View: view.New(s.add), Logger: slog.New(logs),
		Memberlist: func(mc *memberlist.Config) { fast(mc); mc.ProbeInterval = time.Second }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := start(t, "b", nil)
	c := start(t, "c", nil)
	joinTo(t, a, b, c)
	mb, _ := a.del.view.Member("b")
	mc, _ := a.del.view.Member("c")

	held := time.Now()
	a.scheduleHold(mc, a.holdForTest(mc)) // c answers
	b.Close()                             // b does not
	a.scheduleHold(mb, a.holdForTest(mb))
	testutil.Eventually(t, 10*time.Second, func() bool { return s.has(membership.EventFail, "b") }, "b's held failure reported")
	if !logs.has("a member whose removal was held does not answer; reporting it") {
		t.Error("b's held failure was not reported for want of an answer")
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return s.has(membership.EventFail, "c") }, "c's held failure reported at the end of the hold")
	if d := time.Since(held); d < a.holdTime() {
		t.Fatalf("c's held failure reported %v after the hold began, before the hold (%v) ended", d, a.holdTime())
	}
}

// holdForTest registers a held failure of m with a's delegate, as
// NotifyLeave does.
func (g *Gossip) holdForTest(m membership.Member) *heldEvent {
	d := g.del
	d.mu.Lock()
	defer d.mu.Unlock()
	h := &heldEvent{ev: membership.Event{Type: membership.EventFail, Member: m}, why: "test"}
	if d.held == nil {
		d.held = make(map[string]*heldEvent)
	}
	d.held[m.Name] = h
	return h
}
