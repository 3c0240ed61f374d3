package drainproto

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/membership"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// network is an in-memory cluster: each host has its own view, and sends
// are delivered by address.
type network struct {
	mu    sync.Mutex
	hosts map[string]*host // by address
}

type host struct {
	net  *network
	self Peer
	ep   *Endpoint
	// drainingSelf: what a pull from this host tells (under net.mu).
	drainingSelf bool
	// Under net.mu:
	view     map[string]Peer // the live members other than self, by name
	mute     bool            // receives but never answers
	refuse   bool            // sends to it fail
	requests int             // requests received
	pulls    int             // pulls it made
	pullOK   bool            // a pull brings the asker's draining state
}

func newNetwork(t *testing.T, names ...string) (*network, []*host) {
	t.Helper()
	return newNetworkPulling(t, time.Hour, names...)
}

// newNetworkPulling is newNetwork with PullAfter set.
func newNetworkPulling(t *testing.T, pullAfter time.Duration, names ...string) (*network, []*host) {
	t.Helper()
	n := &network{hosts: make(map[string]*host)}
	var hs []*host
	for i, name := range names {
		h := &host{net: n, self: Peer{Name: name, Addr: "addr-" + name, Boot: uint64(i + 1)}, view: make(map[string]Peer)}
		h.ep = New(h, Config{Every: 5 * time.Millisecond, PullAfter: pullAfter, Stopped: errors.New("stopped")})
		n.hosts[h.self.Addr] = h
		hs = append(hs, h)
	}
	for _, h := range hs {
		for _, o := range hs {
			if o != h {
				h.view[o.self.Name] = o.self
			}
		}
		t.Cleanup(h.ep.Stop)
	}
	return n, hs
}

func (h *host) Self() Peer { return h.self }

func (h *host) Peers() []Peer {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	var out []Peer
	for _, p := range h.view {
		out = append(out, p)
	}
	return out
}

func (h *host) Peer(name string) (Peer, bool) {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	p, ok := h.view[name]
	return p, ok
}

func (h *host) Send(to Peer, b []byte) error {
	h.net.mu.Lock()
	dst := h.net.hosts[to.Addr]
	if dst == nil || dst.refuse {
		h.net.mu.Unlock()
		return fmt.Errorf("dial %s: connection refused", to.Addr)
	}
	if b[1] == kindRequest {
		dst.requests++
	}
	mute := dst.mute
	h.net.mu.Unlock()
	if !mute {
		dst.ep.Notify(b)
	}
	return nil
}

// Pull stands for memberlist's push-pull: with pullOK, h's view then
// holds from as from holds itself.
func (h *host) Pull(from Peer) error {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	h.pulls++
	if src := h.net.hosts[from.Addr]; src != nil && h.pullOK {
		p := h.view[from.Name]
		p.Draining = src.drainingSelf
		h.view[from.Name] = p
	}
	return nil
}

// set changes what h's view holds of the member called name.
func (h *host) set(name string, f func(p *Peer)) {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	p := h.view[name]
	f(&p)
	h.view[name] = p
}

// drainingIn marks d draining in the view of every host in hs.
func drainingIn(d *host, hs ...*host) {
	for _, h := range hs {
		h.set(d.self.Name, func(p *Peer) { p.Draining = true })
	}
}

func statuses(rs []membership.DrainReply) string {
	var s string
	for _, r := range rs {
		s += r.Name + "=" + r.Status.String() + " "
	}
	return s
}

// waitFor polls cond until it holds or the test's bound ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *host) received() int {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	return h.requests
}

// TestAllAcked: once every view holds the asker draining, Drain returns
// one acked reply per other member, by name.
func TestAllAcked(t *testing.T) {
	_, hs := newNetwork(t, "a", "b", "c", "d")
	drainingIn(hs[0], hs[1:]...)
	rs, err := hs[0].ep.Drain(context.Background())
	if err != nil || statuses(rs) != "b=acked c=acked d=acked " {
		t.Fatalf("Drain = %s, %v; want b, c, d acked", statuses(rs), err)
	}
	if rs[0].Addr != "addr-b" || rs[0].Err != "" {
		t.Fatalf("reply %+v, want addr-b and no error", rs[0])
	}
}

// TestWaitsForViews: a member whose view does not hold the asker draining
// answers "not yet", and is asked again until it does.
func TestWaitsForViews(t *testing.T) {
	_, hs := newNetwork(t, "a", "b", "c")
	drainingIn(hs[0], hs[1])
	type result struct {
		rs  []membership.DrainReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		rs, err := hs[0].ep.Drain(context.Background())
		done <- result{rs, err}
	}()
	waitFor(t, "c to be asked three times", func() bool { return hs[2].received() >= 3 })
	select {
	case r := <-done:
		t.Fatalf("Drain returned before c's view held the drain: %s", statuses(r.rs))
	default:
	}
	drainingIn(hs[0], hs[2])
	r := <-done
	if r.err != nil || statuses(r.rs) != "b=acked c=acked " {
		t.Fatalf("Drain = %s, %v; want b, c acked", statuses(r.rs), r.err)
	}
}

// TestOutcomes: the deadline ends the wait; each member that did not
// acknowledge says why.
func TestOutcomes(t *testing.T) {
	n, hs := newNetwork(t, "a", "b", "c", "d", "e", "f")
	a := hs[0]
	drainingIn(a, hs[1:]...)
	// c sees a draining in another life (a restarted a with the same name).
	hs[2].set("a", func(p *Peer) { p.Boot = 99 })
	n.mu.Lock()
	hs[3].mute = true   // d never answers
	hs[4].refuse = true // e cannot be reached
	n.mu.Unlock()
	// f's answers go to the address f's view has for a, where nobody is.
	hs[5].set("a", func(p *Peer) { p.Addr = "addr-nowhere" })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, "every member asked", func() bool { return hs[2].received() >= 2 && hs[3].received() >= 2 && hs[5].received() >= 2 })
		cancel()
	}()
	rs, err := a.ep.Drain(ctx)
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	want := map[string]string{
		"b": "acked:",
		"c": "timeout:answered, but its view did not hold this node draining yet",
		"d": "timeout:no answer before the deadline",
		"e": "unreachable:dial addr-e: connection refused",
		"f": "timeout:no answer before the deadline",
	}
	for _, r := range rs {
		if got := r.Status.String() + ":" + r.Err; got != want[r.Name] {
			t.Errorf("%s: %s, want %s", r.Name, got, want[r.Name])
		}
		delete(want, r.Name)
	}
	if len(want) > 0 {
		t.Errorf("no reply for %v", want)
	}
	// Positive control for f: with the right address, f acknowledges.
	hs[5].set("a", func(p *Peer) { p.Addr = "addr-a" })
	n.mu.Lock()
	hs[3].mute, hs[4].refuse = false, false
	n.mu.Unlock()
	hs[2].set("a", func(p *Peer) { p.Boot = a.self.Boot })
	rs, err = a.ep.Drain(context.Background())
	if err != nil || statuses(rs) != "b=acked c=acked d=acked e=acked f=acked " {
		t.Fatalf("second Drain = %s, %v; want all acked", statuses(rs), err)
	}
}

// TestMembersChange: a member that leaves while it is pending is gone; a
// member that joins meanwhile is asked too.
func TestMembersChange(t *testing.T) {
	n, hs := newNetwork(t, "a", "b", "c", "d")
	a := hs[0]
	drainingIn(a, hs[1:]...)
	n.mu.Lock()
	hs[2].mute = true
	delete(a.view, "d") // d joins later
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		waitFor(t, "c asked", func() bool { return hs[2].received() >= 1 })
		n.mu.Lock()
		delete(a.view, "c")      // c failed
		a.view["d"] = hs[3].self // d joined
		n.mu.Unlock()
	}()
	rs, err := a.ep.Drain(ctx)
	if err != nil || statuses(rs) != "b=acked c=gone d=acked " {
		t.Fatalf("Drain = %s, %v; want b acked, c gone, d acked", statuses(rs), err)
	}
	if rs[1].Err == "" {
		t.Fatal("gone reply without a reason")
	}
}

// TestStop: Stop ends a Drain in flight with Config.Stopped, and a later
// Drain fails at once.
func TestStop(t *testing.T) {
	n, hs := newNetwork(t, "a", "b")
	n.mu.Lock()
	hs[1].mute = true
	n.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := hs[0].ep.Drain(context.Background())
		done <- err
	}()
	waitFor(t, "b asked", func() bool { return hs[1].received() >= 1 })
	hs[0].ep.Stop()
	if err := <-done; err == nil || err.Error() != "stopped" {
		t.Fatalf("Drain after Stop: %v, want stopped", err)
	}
	if _, err := hs[0].ep.Drain(context.Background()); err == nil {
		t.Fatal("Drain on a stopped Endpoint succeeded")
	}
}

// TestForgedReplies: replies with another call id, from a member that is
// not asked, or of another life do not count.
func TestForgedReplies(t *testing.T) {
	n, hs := newNetwork(t, "a", "b")
	n.mu.Lock()
	hs[1].mute = true
	n.mu.Unlock()
	a := hs[0]
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, "b asked", func() bool { return hs[1].received() >= 1 })
		a.ep.mu.Lock()
		var id ID
		for id = range a.ep.calls {
		}
		a.ep.mu.Unlock()
		a.ep.Notify(encodeReply(reply{id: ID{0xee}, seen: true, boot: hs[1].self.Boot, name: "b"}))
		a.ep.Notify(encodeReply(reply{id: id, seen: true, boot: 77, name: "b"}))
		a.ep.Notify(encodeReply(reply{id: id, seen: true, boot: 1, name: "zz"}))
		a.ep.Notify([]byte{Prefix, 0xff})
		waitFor(t, "b asked again", func() bool { return hs[1].received() >= 3 })
		cancel()
	}()
	rs, _ := a.ep.Drain(ctx)
	if statuses(rs) != "b=timeout " {
		t.Fatalf("Drain = %s; want b timeout", statuses(rs))
	}
	// Positive control: the genuine reply counts.
	n.mu.Lock()
	hs[1].mute = false
	n.mu.Unlock()
	drainingIn(a, hs[1])
	if rs, _ := a.ep.Drain(context.Background()); statuses(rs) != "b=acked " {
		t.Fatalf("Drain = %s; want b acked", statuses(rs))
	}
}

// TestAlone: with no other member there is nothing to wait for.
func TestAlone(t *testing.T) {
	_, hs := newNetwork(t, "a")
	rs, err := hs[0].ep.Drain(context.Background())
	if err != nil || len(rs) != 0 {
		t.Fatalf("Drain alone = %v, %v; want no replies", rs, err)
	}
}

// TestPullCatchesUp: a member whose view does not get the drain by gossip
// pulls the asker's state after PullAfter, and then acknowledges. Control:
// with a PullAfter longer than the drain, it does not pull, and times out.
func TestPullCatchesUp(t *testing.T) {
	for _, c := range []struct {
		pullAfter time.Duration
		want      string
	}{
		{20 * time.Millisecond, "b=acked "},
		{time.Hour, "b=timeout "},
	} {
		n, hs := newNetworkPulling(t, c.pullAfter, "a", "b")
		n.mu.Lock()
		hs[0].drainingSelf, hs[1].pullOK = true, true
		n.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Ends the drain once b was asked 30 times (b's pull is due
			// after 4), unless it ended first.
			for ctx.Err() == nil && hs[1].received() < 30 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		rs, err := hs[0].ep.Drain(ctx)
		cancel()
		<-done
		n.mu.Lock()
		pulls := hs[1].pulls
		n.mu.Unlock()
		if err != nil || statuses(rs) != c.want {
			t.Fatalf("PullAfter %v: Drain = %s, %v; want %s", c.pullAfter, statuses(rs), err, c.want)
		}
		if (pulls > 0) != (c.pullAfter < time.Hour) {
			t.Fatalf("PullAfter %v: %d pulls", c.pullAfter, pulls)
		}
		// Once seen, the lag is forgotten.
		hs[1].ep.mu.Lock()
		lagging := len(hs[1].ep.lagging)
		hs[1].ep.mu.Unlock()
		if want := map[bool]int{true: 0, false: 1}[c.pullAfter < time.Hour]; lagging != want {
			t.Fatalf("PullAfter %v: %d lagging askers remembered, want %d", c.pullAfter, lagging, want)
		}
	}
}
