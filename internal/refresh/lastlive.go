package refresh

import (
	"maps"
	"math/bits"
	"time"
)

// lastLive remembers when each discovered address was last seen as a
// live member by a pass (see recentlyLive). A map of every discovered
// address to that time cost 72 bytes per member on every node; the
// answer is only ever asked for an address that is not live now, so it
// keeps a bit per discovered address (live at the last pass, whose time
// is at) and a time only for the few addresses that were live at an
// earlier pass and are not any more (gone). Not safe for concurrent use.
type lastLive struct {
	at    time.Time // the last pass
	now   time.Time // the pass under way
	addrs []string  // what the bits are over: the addresses of the last pass
	bits  []uint64  // bit i: addrs[i] was live at the last pass
	next  []uint64  // the bits of the pass under way
	// gone is when the addresses that were live at an earlier pass but
	// not at the last were last seen live.
	gone map[string]time.Time
}

// begin starts a pass at now over addrs. An address that was live at
// the last pass and is missing from addrs keeps that time in gone (a
// pass may run on a partial discovery); retain forgets it.
func (l *lastLive) begin(now time.Time, addrs []string) {
	l.rebase(addrs, nil)
	l.next = resize(l.next, len(addrs))
	clear(l.next)
	l.now = now
}

// live records that addrs[i] (a) is live at this pass.
func (l *lastLive) live(i int, a string) {
	l.next[i/64] |= 1 << (i % 64)
	delete(l.gone, a)
}

// lastSeen returns when addrs[i] (a), not live at this pass, was last seen
// live, if ever since discovery last listed it.
func (l *lastLive) lastSeen(i int, a string) (time.Time, bool) {
	if l.bits[i/64]&(1<<(i%64)) != 0 {
		return l.at, true
	}
	t, ok := l.gone[a]
	return t, ok
}

// end finishes the pass: the addresses that were live at the last pass
// and are not at this one keep the last pass's time in gone, and entries
// older than ttl go (they answer nothing a missing entry would not).
func (l *lastLive) end(ttl time.Duration) {
	for i, w := range l.bits {
		for w &^= l.next[i]; w != 0; w &= w - 1 {
			j := i*64 + bits.TrailingZeros64(w)
			if l.gone == nil {
				l.gone = make(map[string]time.Time)
			}
			l.gone[l.addrs[j]] = l.at
		}
	}
	l.bits, l.next, l.at = l.next, l.bits, l.now
	maps.DeleteFunc(l.gone, func(_ string, t time.Time) bool { return l.at.Sub(t) >= ttl })
}

// retain forgets every address not in keep and moves the bits onto addrs
// (the complete discovery, listing every address of keep).
func (l *lastLive) retain(addrs []string, keep map[string]bool) {
	l.rebase(addrs, keep)
	maps.DeleteFunc(l.gone, func(a string, _ time.Time) bool { return !keep[a] })
}

// rebase moves the bits of the last pass onto addrs. An address live at
// the last pass that addrs does not list moves to gone, unless keep is
// given and does not hold it.
func (l *lastLive) rebase(addrs []string, keep map[string]bool) {
	if sameSlice(addrs, l.addrs) {
		return
	}
	var was map[string]bool
	for i, a := range l.addrs {
		if l.bits[i/64]&(1<<(i%64)) != 0 {
			if was == nil {
				was = make(map[string]bool)
			}
			was[a] = true
		}
	}
	b := make([]uint64, words(len(addrs)))
	for i, a := range addrs {
		if was[a] {
			b[i/64] |= 1 << (i % 64)
			delete(was, a)
		}
	}
	for a := range was {
		if keep == nil || keep[a] {
			if l.gone == nil {
				l.gone = make(map[string]time.Time)
			}
			l.gone[a] = l.at
		}
	}
	l.addrs, l.bits = addrs, b
}

// set makes a, not live now, last seen live at t (for tests).
func (l *lastLive) set(a string, t time.Time) {
	for i, b := range l.addrs {
		if b == a {
			l.bits[i/64] &^= 1 << (i % 64)
		}
	}
	if l.gone == nil {
		l.gone = make(map[string]time.Time)
	}
	l.gone[a] = t
}

// sameSlice reports whether a and b are the same slice (not merely equal):
// addresses are replaced, never modified, between passes.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func words(n int) int { return (n + 63) / 64 }

func resize(b []uint64, n int) []uint64 {
	if cap(b) >= words(n) {
		return b[:words(n)]
	}
	return make([]uint64, words(n))
}
