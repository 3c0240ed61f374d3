package shard

import "math/bits"

// The key hash is XXH64 with seed 0, written out here rather than imported:
// ownership must be the same on every node, in every process and every
// release, so the hash must be deterministic and specified. hash/maphash
// is seeded per process (two nodes would disagree about every owner), and
// XXH64 has a published specification and implementations in most
// languages, so a program that is not written in Go can compute the same
// owners. It reads 8 bytes at a time, which keeps long keys cheap.
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

// hashKey returns XXH64(b, seed 0). It is generic so that a string key is
// hashed without converting it to []byte (which would allocate).
func hashKey[T string | []byte](b T) uint64 {
	n := len(b)
	var h uint64
	if n >= 32 {
		// The lanes start at seed+p1+p2, seed+p2, seed, seed-p1 (mod 2^64).
		v1, v2, v3, v4 := prime1, prime2, uint64(0), uint64(0)
		v1 += prime2
		v4 -= prime1
		for ; len(b) >= 32; b = b[32:] {
			v1 = round(v1, load64(b[0:8]))
			v2 = round(v2, load64(b[8:16]))
			v3 = round(v3, load64(b[16:24]))
			v4 = round(v4, load64(b[24:32]))
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) +
			bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = mergeRound(h, v1)
		h = mergeRound(h, v2)
		h = mergeRound(h, v3)
		h = mergeRound(h, v4)
	} else {
		h = prime5
	}
	h += uint64(n)
	for ; len(b) >= 8; b = b[8:] {
		h ^= round(0, load64(b[0:8]))
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
	}
	if len(b) >= 4 {
		h ^= uint64(load32(b[0:4])) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		b = b[4:]
	}
	for ; len(b) > 0; b = b[1:] {
		h ^= uint64(b[0]) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

func round(acc, input uint64) uint64 {
	acc += input * prime2
	acc = bits.RotateLeft64(acc, 31)
	return acc * prime1
}

func mergeRound(acc, val uint64) uint64 {
	acc ^= round(0, val)
	return acc*prime1 + prime4
}

func load64[T string | []byte](b T) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func load32[T string | []byte](b T) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// mix is the 64-bit finalizer of SplitMix64 (Stafford's variant 13): a
// bijection in which every input bit flips every output bit with
// probability close to 1/2. A member's score for a key is
// mix(keyHash ^ memberSeed): one multiply-xorshift chain per member, so
// the per-member cost of a lookup stays a few nanoseconds, while scores of
// two members for one key behave as independent draws.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
