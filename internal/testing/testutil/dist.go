package testutil

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gencluster/gencluster/membership"
)

// Dist is a fake Dist: Connect succeeds for the addresses it was told are
// reachable, is refused at the addresses marked with Refuse (a peer that
// has not bound its port yet), and times out for the others (unreachable,
// not refused: the refresh loop passes over a refused join at once and
// goes on one by one, but joins the rest in parallel after a timeout),
// every call is
// recorded, and the members are self (named "self") plus every address
// joined (named "m-" + the address).
type Dist struct {
	Self string

	mu      sync.Mutex
	ok      map[string]bool
	calls   map[string][]time.Time
	members map[string]membership.Member
	aliases map[string]string // address -> the member address it reaches
	refused map[string]bool
}

// NewDist returns a Dist at self whose joins of the ok addresses succeed.
func NewDist(self string, ok ...string) *Dist {
	f := &Dist{Self: self, ok: map[string]bool{}, calls: map[string][]time.Time{}, members: map[string]membership.Member{}}
	for _, a := range ok {
		f.ok[a] = true
	}
	f.members[self] = membership.Member{Name: "self", Addr: self, State: membership.StateAlive}
	return f
}

// Connect records the call and joins addr if it is reachable.
func (f *Dist) Connect(_ context.Context, addr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[addr] = append(f.calls[addr], time.Now())
	if of, ok := f.aliases[addr]; ok {
		f.members[of] = membership.Member{Name: "m-" + of, Addr: of, State: membership.StateAlive}
		return nil
	}
	if f.refused[addr] {
		return fmt.Errorf("dial tcp %s: %w", addr, syscall.ECONNREFUSED)
	}
	if !f.ok[addr] {
		return fmt.Errorf("dial tcp %s: i/o timeout", addr)
	}
	f.members[addr] = membership.Member{Name: "m-" + addr, Addr: addr, State: membership.StateAlive}
	return nil
}

// Members returns self and the joined members.
func (f *Dist) Members() []membership.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []membership.Member
	for _, m := range f.members {
		out = append(out, m)
	}
	return out
}

// CallTimes returns when Connect(addr) was called.
func (f *Dist) CallTimes(addr string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls[addr])
}

// SetOK makes joins of addr succeed or fail from now on.
func (f *Dist) SetOK(addr string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ok[addr] = ok
	if ok {
		delete(f.refused, addr)
	}
}

// Add makes m a member, as if it had joined.
func (f *Dist) Add(m membership.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[m.Addr] = m
}

// Drop removes the member at addr, as if it had failed.
func (f *Dist) Drop(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.members, addr)
}

// Alias makes a join of addr succeed and reach the member at of: addr is
// another address of that member (its other IP family, a NAT address), so
// no member is ever listed at addr.
func (f *Dist) Alias(addr, of string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aliases == nil {
		f.aliases = map[string]string{}
	}
	f.aliases[addr] = of
}

// Refuse makes joins of addrs fail as refused (nothing listens there yet)
// instead of timing out, until SetOK makes them reachable.
func (f *Dist) Refuse(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused == nil {
		f.refused = map[string]bool{}
	}
	for _, a := range addrs {
		f.refused[a] = true
	}
}
