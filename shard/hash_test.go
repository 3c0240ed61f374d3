package shard

import (
	"strings"
	"testing"
)

// The vectors are XXH64 with seed 0 as computed by
// github.com/cespare/xxhash/v2 (v2.3.0): the hash must be XXH64 exactly,
// so that another implementation computes the same owners. They cover
// every branch: under 4 bytes, 4-7, the 8-byte loop, and the 32-byte
// stripes.
func TestHashIsXXH64(t *testing.T) {
	for _, v := range []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"abc", 0x44bc2cf5ad770999},
		{"tenant-42", 0xf9fbb9a903514f40},
		{"0123456", 0x97ee4fe4a0ff4dfa},
		{"01234567", 0xe4ba22a49ad89d3f},
		{"0123456789abcdef0123456789abcde", 0x1fdfc63febacfde7},
		{"0123456789abcdef0123456789abcdef", 0x642a94958e71e6c5},
		{strings.Repeat("gencluster", 10), 0xa946622ba76ec33a},
	} {
		if got := hashKey(v.in); got != v.want {
			t.Errorf("hashKey(%q) = %#016x, want %#016x", v.in, got, v.want)
		}
		if got := hashKey([]byte(v.in)); got != v.want {
			t.Errorf("hashKey([]byte(%q)) = %#016x, want %#016x", v.in, got, v.want)
		}
	}
}

// mix must be a bijection with avalanche: flipping one input bit flips
// about half of the output bits. Averaged over many inputs and all 64
// input bits, the mean must be close to 32.
func TestMixAvalanche(t *testing.T) {
	var flips, trials int
	x := uint64(0x9e3779b97f4a7c15)
	for range 2000 {
		x = x*6364136223846793005 + 1442695040888963407
		base := mix(x)
		for b := range 64 {
			d := base ^ mix(x^(1<<b))
			for ; d != 0; d &= d - 1 {
				flips++
			}
			trials++
		}
	}
	if mean := float64(flips) / float64(trials); mean < 31.5 || mean > 32.5 {
		t.Errorf("mean output bits flipped by one input bit = %.3f, want about 32", mean)
	}
}
