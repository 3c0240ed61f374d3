package gencluster_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/membership"
	"github.com/gencluster/gencluster/seeds"
	"github.com/gencluster/gencluster/shard"
)

// scheduler runs each job on exactly one worker, the job's owner, and
// moves jobs only when a Change says the owners changed. docs/ownership.md
// quotes it.
type scheduler struct {
	self    string          // this node's name
	jobs    []string        // every job, known to every worker
	running map[string]bool // the jobs running here
	start   func(job string)
	stop    func(job string)
}

// apply moves the jobs a Change moves: it starts the jobs this worker
// owns now and did not run, and stops those it ran and no longer owns.
// Only jobs whose owner was a Removed member, or is an Added one, can
// move; with thousands of jobs, index them by owner and look at those
// alone.
func (s *scheduler) apply(c shard.Change) {
	for _, job := range s.jobs {
		owner, ok := c.Table.Owner(job)
		mine := ok && owner.Name == s.self
		switch {
		case mine && !s.running[job]:
			s.running[job] = true
			s.start(job)
		case !mine && s.running[job]:
			delete(s.running, job)
			s.stop(job)
		}
	}
}

// run applies every Change until the stream closes (Ownership.Close, or
// the node stopped).
func (s *scheduler) run(o *gencluster.Ownership) {
	for c := range o.Changes() {
		s.apply(c)
	}
}

// Two workers share six jobs. Worker w-1 follows the owners with a
// scheduler: it starts every job while it is alone, stops the jobs w-2
// takes when w-2 joins, and starts them again when w-2 leaves. Every
// other job stays where it runs.
func ExampleNode_Ownership() {
	start := func(name string, seed string) *gencluster.Node {
		opts := []gencluster.Option{
			gencluster.WithName(name),
			gencluster.WithBindAddr("127.0.0.1:0"),
			gencluster.WithMeta(map[string]string{"role": "worker"}),
		}
		if seed != "" {
			opts = append(opts, gencluster.WithSeeds(seeds.Static(seed)))
		}
		n, err := gencluster.Start(context.Background(), opts...)
		if err != nil {
			panic(err)
		}
		return n
	}
	w1 := start("w-1", "")
	defer w1.Close()
	o, err := w1.Ownership(shard.WithFilter(shard.MetaEquals("role", "worker")))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer o.Close()

	s := &scheduler{
		self:    w1.Name(),
		jobs:    []string{"job-1", "job-2", "job-3", "job-4", "job-5", "job-6"},
		running: map[string]bool{},
		start:   func(job string) { fmt.Println("  start", job) },
		stop:    func(job string) { fmt.Println("  stop", job) },
	}
	// Here the Changes are read one at a time, to print them; a service
	// runs s.run(o) in a goroutine.
	next := func() {
		select {
		case c := <-o.Changes():
			fmt.Printf("owners %s (+%s -%s)\n", names(c.Table.Members()), names(c.Added), names(c.Removed))
			s.apply(c)
		case <-time.After(30 * time.Second):
			fmt.Println("no Change in 30s")
		}
	}
	next() // the first Change: the owners the Ownership started with

	w2 := start("w-2", w1.Addr())
	next()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w2.Leave(ctx); err != nil {
		fmt.Println(err)
	}
	next()

	// From here on, as a service would: every Change, until o.Close.
	done := make(chan struct{})
	go func() { defer close(done); s.run(o) }()
	o.Close()
	<-done
	// Output:
	// owners w-1 (+w-1 -)
	//   start job-1
	//   start job-2
	//   start job-3
	//   start job-4
	//   start job-5
	//   start job-6
	// owners w-1,w-2 (+w-2 -)
	//   stop job-1
	//   stop job-5
	//   stop job-6
	// owners w-1 (+ -w-2)
	//   start job-1
	//   start job-5
	//   start job-6
}

func names(ms []membership.Member) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return strings.Join(out, ",")
}
