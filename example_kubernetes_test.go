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

// The README's Kubernetes quick start: seeded by a headless Service's DNS
// name, logging every membership change, and leaving gracefully on
// SIGTERM. It has no Output comment, so go test compiles it but does not
// run it (it needs that DNS name); test/readme_test.go checks that
// README.md shows exactly this body as the main function of its second
// program, so the README's program compiles whenever this does.
func Example_kubernetes() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// The node's name defaults to the host name plus a random suffix
	// (WithName sets one; it must be unique in the cluster).
	node, err := gencluster.Start(ctx,
		gencluster.WithBindAddr("{{ GetPrivateIP }}:7946"),
		// Every address this name resolves to is a seed; the refresh loop
		// asks again every 5s and joins whoever is not a member yet.
		gencluster.WithSeeds(seeds.DNS("chat-gossip.prod.svc.cluster.local", 7946)),
	)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s at %s, members: %v", node.Name(), node.Addr(), node.Members())

	go func() {
		// This node's own join first, then every change; the channel
		// closes when the node stops.
		for ev := range node.Events() {
			log.Printf("%s %s at %s", ev.Type, ev.Member.Name, ev.Member.Addr)
		}
	}()

	<-ctx.Done() // SIGTERM: leave, so the others see "leave", not "fail"
	leaveCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Leave(leaveCtx); err != nil {
		log.Printf("leave: %v", err)
	}
}
