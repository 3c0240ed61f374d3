package shard_test

import (
	"fmt"
	"sync/atomic"

	"github.com/gencluster/gencluster/membership"
	"github.com/gencluster/gencluster/shard"
)

func member(name string, state membership.State, meta ...string) membership.Member {
	m := membership.Member{Name: name, Addr: name + ":7946", State: state, Meta: map[string]string{}}
	for i := 0; i+1 < len(meta); i += 2 {
		m.Meta[meta[i]] = meta[i+1]
	}
	return m
}

func Example() {
	members := []membership.Member{
		member("api-1", membership.StateAlive, "role", "api"),
		member("worker-1", membership.StateAlive, "role", "worker"),
		member("worker-2", membership.StateAlive, "role", "worker"),
		member("worker-3", membership.StateAlive, "role", "worker"),
		member("worker-4", membership.StateFailed, "role", "worker"),
	}
	t, err := shard.New(members, shard.WithFilter(shard.MetaEquals("role", "worker")))
	if err != nil {
		fmt.Println(err)
		return
	}
	owner, _ := t.Owner("tenant-42")
	fmt.Println("tenant-42 runs on", owner.Name)

	replicas := make([]membership.Member, 0, 2) // reused: no allocation
	for _, m := range t.Owners("tenant-42", 2, replicas[:0]) {
		fmt.Println("replica", m.Name)
	}
	fmt.Println(t.Len(), "members own keys")
	// Output:
	// tenant-42 runs on worker-2
	// replica worker-2
	// replica worker-1
	// 3 members own keys
}

// A job scheduler runs each job on its one owner. It rebuilds the Table on
// every membership change and, comparing the old Table with the new,
// finds the jobs that moved: only those must stop on one member and start
// on another.
func ExampleNew_rebuild() {
	var current atomic.Pointer[shard.Table] // read by every request
	workers := []membership.Member{
		member("w-1", membership.StateAlive),
		member("w-2", membership.StateAlive),
		member("w-3", membership.StateAlive),
	}
	t, _ := shard.New(workers)
	current.Store(t)

	jobs := []string{"job-1", "job-2", "job-3", "job-4", "job-5", "job-6", "job-7", "job-8", "job-9"}
	// w-2 leaves: the new Table moves its jobs and nothing else.
	workers[1].State = membership.StateLeft
	next, err := shard.New(workers)
	if err != nil {
		return // keep the current Table and report err
	}
	old := current.Swap(next)
	stay := 0
	for _, job := range jobs {
		was, _ := old.Owner(job)
		now, _ := next.Owner(job)
		if was.Name != now.Name {
			fmt.Printf("%s moves from %s to %s\n", job, was.Name, now.Name)
		} else {
			stay++
		}
	}
	fmt.Println(stay, "jobs stay where they run")
	// Output:
	// job-1 moves from w-2 to w-3
	// job-7 moves from w-2 to w-1
	// 7 jobs stay where they run
}

// Replicas spread over zones: the first two owners of every key are in
// different zones, although zone a has three of the four members.
func ExampleWithZoneMeta() {
	t, _ := shard.New([]membership.Member{
		member("a-1", membership.StateAlive, "zone", "a"),
		member("a-2", membership.StateAlive, "zone", "a"),
		member("a-3", membership.StateAlive, "zone", "a"),
		member("b-1", membership.StateAlive, "zone", "b"),
	}, shard.WithZoneMeta("zone"))
	for _, key := range []string{"shard-1", "shard-2", "shard-3"} {
		fmt.Println(key, "→", t.Owners(key, 2, nil)[0].Name, t.Owners(key, 2, nil)[1].Name)
	}
	// Output:
	// shard-1 → a-2 b-1
	// shard-2 → b-1 a-1
	// shard-3 → b-1 a-2
}

// A weight that does not parse stops New, naming the member and the value.
func ExampleWithWeightMeta() {
	_, err := shard.New([]membership.Member{
		member("big", membership.StateAlive, "weight", "4"),
		member("small", membership.StateAlive, "weight", "1"),
		member("typo", membership.StateAlive, "weight", "1,5"),
	}, shard.WithWeightMeta("weight"))
	fmt.Println(err)
	// Output:
	// shard: member "typo": weight weight="1,5" is not a number
}
