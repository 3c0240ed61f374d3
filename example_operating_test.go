package gencluster_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

// Serve the node's members, liveness and readiness on an admin port. With
// WithMinMembers(2), a node alone is live but not ready.
func ExampleNode_Handler() {
	n, err := gencluster.Start(context.Background(),
		gencluster.WithName("api-1"),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithMinMembers(2),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	h := n.Handler() // for example: go http.ListenAndServe("127.0.0.1:8080", h)

	for _, path := range []string{"/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Printf("%s %d %s", path, rec.Code, rec.Body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/members", nil))
	// The address and the boot id (new at every Start) vary from run to run.
	body := strings.NewReplacer(n.Addr(), "ADDR", n.LocalMember().Boot.String(), "BOOT").Replace(rec.Body.String())
	fmt.Println(rec.Header().Get("Content-Type"), body)
	// Output:
	// /healthz 200 ok
	// /readyz 503 not ready: 1 of 2 members
	// application/json [{"name":"api-1","addr":"ADDR","state":"alive","meta":{},"boot":"BOOT"}]
}

// Register a node's metrics on your own registry (here a fresh one; in a
// program, the one promhttp serves). Every series has the label node.
func ExampleWithMetrics() {
	reg := prometheus.NewRegistry()
	n, err := gencluster.Start(context.Background(),
		gencluster.WithName("api-1"),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithMetrics(reg),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gencluster_members Live members as this node sees them, by state (alive, draining; memberlist does not expose suspects).
# TYPE gencluster_members gauge
gencluster_members{node="api-1",state="alive"} 1
gencluster_members{node="api-1",state="draining"} 0
`), "gencluster_members")
	fmt.Println("compare:", err)

	n.Close() // unregisters the node's collectors
	fmt.Println("series after Close:", testutil.CollectAndCount(reg))
	// Output:
	// compare: <nil>
	// series after Close: 0
}

// A node whose seed it can never join (here nothing listens at the seed's
// port) runs alone; after 3 refresh intervals it is isolated: not ready,
// /healthz 503, and Isolated says why.
func ExampleNode_Isolated() {
	n, err := gencluster.Start(context.Background(),
		gencluster.WithName("lonely"),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithSeeds(seeds.Static("127.0.0.1:1")), // port 1: refused
		gencluster.WithRefreshInterval(100*time.Millisecond),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if isolated, why := n.Isolated(); isolated {
			fmt.Println("isolated:", strings.SplitN(why, " ", 2)[0])
			ready, _ := n.Ready()
			fmt.Println("ready:", ready)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Println("not isolated")
	// Output:
	// isolated: refused
	// ready: false
}
