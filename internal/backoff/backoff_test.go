package backoff

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDelayGrowsCappedWithJitter(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 10; n++ {
		want := min(p.Min<<(n-1), p.Max)
		for range 100 {
			d := p.Delay(n, r)
			if d < want/2 || d > want {
				t.Fatalf("failure %d: delay %v outside [%v, %v]", n, d, want/2, want)
			}
		}
	}
	// Jitter spreads retries: 100 draws are not all equal.
	first := p.Delay(3, r)
	spread := false
	for range 100 {
		if p.Delay(3, r) != first {
			spread = true
		}
	}
	if !spread {
		t.Fatal("no jitter")
	}
}

func TestTracker(t *testing.T) {
	tr := NewTracker(Policy{Min: time.Second, Max: 8 * time.Second}, 7)
	now := time.Unix(1000, 0)
	if !tr.Due("a", now) {
		t.Fatal("a fresh key must be due")
	}
	if _, ok := tr.Next(); ok {
		t.Fatal("Next with nothing waiting")
	}
	d := tr.Failed("a", now)
	if tr.Due("a", now.Add(d-time.Millisecond)) || !tr.Due("a", now.Add(d)) {
		t.Fatalf("a not due exactly after its delay %v", d)
	}
	if next, ok := tr.Next(); !ok || !next.Equal(now.Add(d)) {
		t.Fatalf("Next = %v %v, want %v", next, ok, now.Add(d))
	}
	tr.Failed("a", now)
	if tr.Failures("a") != 2 {
		t.Fatalf("Failures = %d", tr.Failures("a"))
	}
	tr.Succeeded("a")
	if tr.Failures("a") != 0 || !tr.Due("a", now) {
		t.Fatal("Succeeded did not reset a")
	}
	tr.Failed("b", now)
	tr.Failed("c", now)
	tr.Retain(map[string]bool{"c": true})
	if tr.Failures("b") != 0 || tr.Failures("c") != 1 {
		t.Fatal("Retain kept the wrong keys")
	}
}

// FailedFrom waits its own first delay (never above the policy's Min)
// for the first times failures, then doubles, and counts toward the same
// backoff as Failed.
func TestFailedFrom(t *testing.T) {
	p := Policy{Min: 500 * time.Millisecond, Max: 4 * time.Second}
	tr := NewTracker(p, 3)
	now := time.Unix(1000, 0)
	for i, want := range []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		if d := tr.FailedFrom("a", now, 100*time.Millisecond, 2); d < want/2 || d > want {
			t.Errorf("refusal %d: delay %v, want within [%v, %v]", i+1, d, want/2, want)
		}
	}
	if d := tr.Failed("a", now); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("a fifth failure of another kind waited %v, want the policy's 5th delay, capped: within [2s, 4s]", d)
	}
	if d := tr.FailedFrom("b", now, time.Minute, 1); d < p.Min/2 || d > p.Min {
		t.Errorf("FailedFrom with a first delay above Min waited %v, want Min's [%v, %v]", d, p.Min/2, p.Min)
	}
}
