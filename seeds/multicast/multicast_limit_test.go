package multicast

import (
	"testing"
	"time"
)

// TestSourceLimitsTable: a full table forgets sources whose buckets are full
// again, and refuses a new source while none is.
func TestSourceLimitsTable(t *testing.T) {
	l := newSourceLimitsOf(1, 2, 2)
	now := time.Unix(1700000000, 0)
	if !l.allow("a", now) || !l.allow("b", now) {
		t.Fatal("first packets of a and b refused")
	}
	if l.allow("c", now) {
		t.Error("a third source was let in while the table is full of active ones")
	}
	if !l.allow("a", now) || l.allow("a", now) {
		t.Error("a's burst of 2 is not honoured")
	}
	// Two seconds later b's bucket is full again (a's too): c takes a slot.
	later := now.Add(2 * time.Second)
	if !l.allow("c", later) {
		t.Error("c refused although idle sources could be forgotten")
	}
	if n := len(l.sources); n > 2 {
		t.Errorf("%d sources tracked, want at most 2", n)
	}
}

// TestSourceLimitsRate: the bucket refills at the announce interval's rate.
func TestSourceLimitsRate(t *testing.T) {
	l := newSourceLimits(time.Second) // mcSrcBurst a second
	now := time.Unix(1700000000, 0)
	n := 0
	for l.allow("a", now) {
		n++
	}
	if n != mcSrcBurst {
		t.Fatalf("burst = %d, want %d", n, mcSrcBurst)
	}
	if got := l.allow("a", now.Add(time.Second/mcSrcBurst+time.Millisecond)); !got {
		t.Error("no token after 1/64 s at 64 tokens a second")
	}
}
