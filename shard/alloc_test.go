package shard

import (
	"fmt"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

// The lookup path allocates nothing: Owner always, Owners for n <= 32 into
// a dst with room. This counts allocations (it times nothing).
func TestLookupDoesNotAllocate(t *testing.T) {
	fill := func(i int, m map[string]string) {
		m["zone"] = fmt.Sprintf("z%d", i%3)
		m["weight"] = fmt.Sprint(1 + i%4)
	}
	for _, c := range []struct {
		name string
		tb   *Table
	}{
		{"plain", mustNew(t, alive(200, nil))},
		{"weights and zones", mustNew(t, alive(200, fill), WithWeightMeta("weight"), WithZoneMeta("zone"))},
	} {
		key, keyBytes := "tenant-42/job-7", []byte("tenant-42/job-7")
		if a := testing.AllocsPerRun(100, func() { c.tb.Owner(key) }); a != 0 {
			t.Errorf("%s: Owner allocates %v times a call", c.name, a)
		}
		if a := testing.AllocsPerRun(100, func() { c.tb.OwnerBytes(keyBytes) }); a != 0 {
			t.Errorf("%s: OwnerBytes allocates %v times a call", c.name, a)
		}
		for _, n := range []int{1, 3, 32} {
			dst := make([]membership.Member, 0, n)
			if a := testing.AllocsPerRun(100, func() { dst = c.tb.Owners(key, n, dst[:0]) }); a != 0 {
				t.Errorf("%s: Owners(n=%d) allocates %v times a call", c.name, n, a)
			}
			if len(dst) != n {
				t.Errorf("%s: Owners(n=%d) returned %d members", c.name, n, len(dst))
			}
			if a := testing.AllocsPerRun(100, func() { dst = c.tb.OwnersBytes(keyBytes, n, dst[:0]) }); a != 0 {
				t.Errorf("%s: OwnersBytes(n=%d) allocates %v times a call", c.name, n, a)
			}
		}
	}
}
