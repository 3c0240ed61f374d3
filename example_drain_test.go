package gencluster_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

// A node about to stop drains first: every member holds it draining (and
// gives it no work), and Drain returns once each has said so. Then it
// hands off what it has, and leaves.
func ExampleNode_Drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := gencluster.Start(ctx, gencluster.WithName("api-1"), gencluster.WithBindAddr("127.0.0.1:0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	b, err := gencluster.Start(ctx, gencluster.WithName("api-2"), gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithSeeds(seeds.Static(a.Addr())))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := a.WaitForMembers(ctx, 2); err != nil {
		fmt.Println(err)
		return
	}

	res, err := b.Drain(ctx)
	for _, r := range res.Members {
		fmt.Println(r.Name, r.Status)
	}
	fmt.Println("err:", err)
	for _, m := range a.Members() { // what api-1 holds now
		fmt.Println(m.Name, m.State)
	}
	ready, _ := b.Ready()
	fmt.Println("api-2 ready:", ready)
	// ... hand off api-2's work here ...
	fmt.Println("leave:", b.Leave(ctx))
	// Output:
	// api-1 acked
	// err: <nil>
	// api-1 alive
	// api-2 draining
	// api-2 ready: false
	// leave: <nil>
}
