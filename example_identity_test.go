package gencluster_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

// A second process started with the name of a live member (a copied
// deployment) does not start: Start returns ErrNameConflict, naming the
// member's address, and the member is left alone.
func ExampleErrNameConflict() {
	ctx := context.Background()
	first, err := gencluster.Start(ctx, gencluster.WithName("api-1"), gencluster.WithBindAddr("127.0.0.1:0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer first.Close()

	_, err = gencluster.Start(ctx, gencluster.WithName("api-1"), gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithSeeds(seeds.Static(first.Addr())))
	if errors.Is(err, gencluster.ErrNameConflict) {
		fmt.Println("refused: the name api-1 is taken")
	}
	ms := first.Members()
	fmt.Println(len(ms), "member:", ms[0].Name, ms[0].Addr == first.Addr())
	// Output:
	// refused: the name api-1 is taken
	// 1 member: api-1 true
}
