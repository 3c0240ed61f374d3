package refresh

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestLastLiveMatchesMap drives lastLive and the map it replaced (every
// discovered address to when a pass last saw it live) with the same
// random passes, discoveries (new address lists, partial ones while
// backends answer, complete ones that drop addresses) and live sets, and
// checks that recentlyLive would answer the same for every address that
// is not live at a pass.
func TestLastLiveMatchesMap(t *testing.T) {
	const ttl = 10 * time.Second
	rng := rand.New(rand.NewPCG(3, 4))
	var l lastLive
	ref := map[string]time.Time{}
	now := time.Unix(1000, 0)
	pool := make([]string, 150)
	for i := range pool {
		pool[i] = fmt.Sprintf("10.0.0.%d:7946", i)
	}
	pick := func() []string {
		var out []string
		for _, i := range rng.Perm(len(pool))[:rng.IntN(len(pool))] {
			out = append(out, pool[i])
		}
		return out
	}
	addrs := pick()
	live := map[string]bool{}
	for step := range 3000 {
		now = now.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		switch rng.IntN(10) {
		case 0: // a complete discovery: forget what it does not list
			addrs = pick()
			keep := map[string]bool{}
			for _, a := range addrs {
				keep[a] = true
			}
			l.retain(addrs, keep)
			for a := range ref {
				if !keep[a] {
					delete(ref, a)
				}
			}
		case 1: // a partial discovery: a pass runs on a subset
			addrs = append([]string(nil), addrs[:rng.IntN(len(addrs)+1)]...)
		case 2, 3: // members come and go
			for range 10 {
				a := pool[rng.IntN(len(pool))]
				live[a] = !live[a]
			}
		}
		l.begin(now, addrs)
		for i, a := range addrs {
			if live[a] {
				l.live(i, a)
				ref[a] = now
				continue
			}
			got, ok := l.lastSeen(i, a)
			want, wok := ref[a]
			if g, w := ok && now.Sub(got) < ttl, wok && now.Sub(want) < ttl; g != w || (g && !got.Equal(want)) {
				t.Fatalf("step %d: %s last seen live %v (%v), want %v (%v)", step, a, got, ok, want, wok)
			}
		}
		l.end(ttl)
	}
}
