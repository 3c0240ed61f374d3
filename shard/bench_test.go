package shard

import (
	"fmt"
	"testing"

	"github.com/gencluster/gencluster/membership"
)

// The benchmarks compare HRW (without and with weights) with the ring of
// ring_test.go (100 virtual nodes a member) at 10, 1,000 and 10,000
// members. Run them alone on an idle machine:
//
//	go test -run '^$' -bench . -benchmem ./shard/
//
// (-benchtime=1x checks that they run.)

var benchSizes = []int{10, 1_000, 10_000}

type benchSet struct {
	plain, weighted *Table
	ring            *ring
	keys            []string
}

func newBenchSet(b *testing.B, n int) benchSet {
	ms := alive(n, func(i int, m map[string]string) { m["weight"] = fmt.Sprint(1 + i%4) })
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%d/job-%d", i%37, i)
	}
	return benchSet{
		plain:    mustNew(b, ms),
		weighted: mustNew(b, ms, WithWeightMeta("weight")),
		ring:     newRing(ms, ringVnodes),
		keys:     keys,
	}
}

type owner interface {
	Owner(key string) (membership.Member, bool)
	Owners(key string, n int, dst []membership.Member) []membership.Member
}

func (s benchSet) each(b *testing.B, n int, run func(b *testing.B, o owner)) {
	for _, c := range []struct {
		name string
		o    owner
	}{{"hrw", s.plain}, {"hrw-weighted", s.weighted}, {"ring", s.ring}} {
		b.Run(fmt.Sprintf("members=%d/%s", n, c.name), func(b *testing.B) {
			b.ReportAllocs()
			run(b, c.o)
		})
	}
}

func BenchmarkOwner(b *testing.B) {
	for _, n := range benchSizes {
		s := newBenchSet(b, n)
		s.each(b, n, func(b *testing.B, o owner) {
			for i := 0; b.Loop(); i++ {
				o.Owner(s.keys[i&1023])
			}
		})
	}
}

// BenchmarkOwners asks for 3 replicas, into a reused dst.
func BenchmarkOwners(b *testing.B) {
	for _, n := range benchSizes {
		s := newBenchSet(b, n)
		s.each(b, n, func(b *testing.B, o owner) {
			dst := make([]membership.Member, 0, 3)
			for i := 0; b.Loop(); i++ {
				dst = o.Owners(s.keys[i&1023], 3, dst[:0])
			}
		})
	}
}

// BenchmarkNew is the cost of a membership change: building the Table (or
// the ring) from the members.
func BenchmarkNew(b *testing.B) {
	for _, n := range benchSizes {
		ms := alive(n, nil)
		b.Run(fmt.Sprintf("members=%d/hrw", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mustNew(b, ms)
			}
		})
		b.Run(fmt.Sprintf("members=%d/ring", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				newRing(ms, ringVnodes)
			}
		})
	}
}
