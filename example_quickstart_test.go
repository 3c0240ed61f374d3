package gencluster_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

// The README's first quick start, on one laptop: three processes on
// 127.0.0.1, seeded by a port range, no DNS. It has no Output comment, so
// go test compiles it but does not run it; test/readme_test.go checks that
// README.md shows exactly this body as the main function of its first
// program, and test/readme_laptop_test.go runs that program three times.
func Example_quickStart() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// Run it three times: `go run . 7946`, `go run . 7947`, `go run . 7948`.
	// Each node binds its port on 127.0.0.1 and takes every port of
	// 7946-7948 as a seed; a port where no node listens yet is tried again
	// by the refresh loop, so the order of the starts does not matter.
	port := "7946"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	node, err := gencluster.Start(ctx,
		gencluster.WithName("node-"+port), // unique in the cluster
		gencluster.WithBindAddr("127.0.0.1:"+port),
		gencluster.WithSeeds(seeds.PortRange("127.0.0.1", 7946, 7948)),
	)
	if err != nil {
		log.Fatal(err)
	}

	go func() {
		// This node's own join first, then every change; the channel
		// closes when the node stops.
		for ev := range node.Events() {
			log.Printf("%s %s at %s", ev.Type, ev.Member.Name, ev.Member.Addr)
		}
	}()

	<-ctx.Done() // Ctrl-C: leave, so the others see "leave", not "fail"
	leaveCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Leave(leaveCtx); err != nil {
		log.Printf("leave: %v", err)
	}
}
