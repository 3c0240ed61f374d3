// Package nemesis holds gencluster's long-running fault experiments, in
// Docker containers like test/system:
//
//   - TestNemesis: a cluster of node programs under a random schedule of
//     overlapping faults (kill -9, restarts at the same and a new
//     address, SIGTERM, symmetric and one-way partitions, packet loss,
//     CPU starvation), drawn from a printed seed, checked all along: whole
//     again after every heal within a bound, no healthy member reported
//     failed by a healthy member, every node's folded events equal to its
//     /members, no growth of goroutines, file descriptors or heap.
//   - TestSlowMembers: Lifeguard's experiment, k of N members starved of
//     CPU for minutes, with gencluster's node program, a hand-wired
//     memberlist program (./mlnode) and Debian's serf agent side by side.
//
// The schedule, the judge of failures and the log parsers are plain Go,
// unit-tested by go test ./...; the experiments are behind the build tag
// "nemesis" and need Docker, nsenter and iptables, as root (and serf for
// TestSlowMembers); they fail, never skip, without them:
//
//	go test -tags nemesis -count=1 -v -run TestNemesis ./test/nemesis/ -nemesis.duration 3m
//	go test -tags nemesis -count=1 -v -run TestNemesis ./test/nemesis/ -nemesis.seed 1234
//	go test -tags nemesis -count=1 -v -run TestSlowMembers ./test/nemesis/ -slow.k 1 -slow.duration 3m
//
// docs/reliability.md has the figures and what they mean.
package nemesis
