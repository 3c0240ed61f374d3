// Package shard says which members of a cluster own which keys, by
// weighted rendezvous hashing (highest random weight, HRW): every member
// draws a pseudo-random score for a key, the same on every node, and the
// member with the highest score owns it. Owners(key, n) gives the n best,
// for replicas.
//
// Build a Table from the members whenever they change, and look keys up
// in it on every request:
//
//	t, err := shard.New(node.Members(),
//		shard.WithFilter(shard.MetaEquals("role", "worker")),
//		shard.WithWeightMeta("weight"),
//		shard.WithZoneMeta("zone"),
//	)
//	if err != nil { ... }            // keep the previous Table
//	owner, ok := t.Owner("tenant-42") // ok is false when t is empty
//	replicas := t.Owners("tenant-42", 3, buf[:0])
//
// Or let a Tracker (NewTracker, then Apply for each event or Sync for
// each snapshot) rebuild it and say when the owning set changed: a Change
// names the members added and removed, and only their keys move.
// Node.Ownership runs one for a gencluster Node, with each Change at the
// membership view's version that /members reports.
//
// # What it guarantees
//
//   - Every node that builds a Table from the same members and options
//     gets the same owner for every key: the members are sorted, the key
//     hash is XXH64 (seed 0) and the scores are computed from it and the
//     member's name only.
//   - A member that joins takes about 1/N of the keys, all from the
//     others; a member that leaves gives away only its own keys, which
//     spread over the others in proportion to their weights. No other key
//     moves (a consistent-hash ring also moves about 1/N, but spreads it
//     unevenly unless it has many virtual nodes per member).
//   - With weights, member i owns a share w_i / sum(w) of the keys.
//   - Owner and Owners allocate nothing (Owners for n <= 32, into a dst
//     with room).
//
// # Who owns keys
//
// A member owns keys when its State is membership.StateAlive and every
// filter given with WithFilter accepts it; members failed or left own
// nothing. The test is "is alive", not "is not failed or left", on
// purpose: a draining state added to membership later (a member that is
// shutting down, still alive but giving its keys away) will not be
// StateAlive and so will own nothing, with no change to this package's
// API. Until then, a program can mark a member draining in its metadata
// and exclude it with a WithFilter.
//
// # Cost
//
// A lookup computes one score per owning member: O(N), a few nanoseconds
// a member without weights (one multiply-xorshift chain), more with
// weights (a logarithm a member). A consistent-hash ring looks up in
// O(log N) but needs many virtual nodes per member to spread keys evenly,
// and spreads a departed member's keys unevenly over its neighbours; HRW
// needs no virtual nodes, so its Table is small and quick to rebuild. The
// benchmarks in this package compare both; at thousands of members and a
// hot lookup path, measure before choosing.
package shard
