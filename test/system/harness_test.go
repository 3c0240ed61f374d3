//go:build system

package system

import (
	"sync"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

const (
	// nodes is how many containers a scenario runs.
	nodes = 8
	// gossipPort and httpPort are the node program's ports in a container.
	gossipPort = 7946
	httpPort   = 8080
	// alias is the network alias every node has: Docker's embedded DNS
	// answers it with one A record per container, and it is the seed list.
	alias = "gossip"
	// refresh is the nodes' GENCLUSTER_REFRESH_INTERVAL.
	refresh = 2 * time.Second
)

// Deadlines. The node program runs with -fast (failure detection in about
// a second). Every wait polls against a deadline; nothing sleeps a fixed
// time except the bounded "stays" observations below.
const (
	convergeTimeout = 40 * time.Second
	failTimeout     = 30 * time.Second
	// healTimeout is the promise of the partition scenario: after the
	// network heals, the cluster is whole again within one refresh
	// interval plus a few seconds.
	healTimeout = refresh + 8*time.Second
	// partitionHold is how long a partition is kept after both sides have
	// declared each other failed: longer than the -fast
	// GossipToTheDeadTime (2s), after which memberlist stops gossiping to
	// dead nodes and forgets them, so only the refresh loop can heal.
	partitionHold = 4 * time.Second
	// splitWatch is how long the control test checks that, without the
	// refresh loop, a healed network leaves the cluster split.
	splitWatch = 8 * time.Second
	// outsiderWatch is how long the security scenario watches that nodes
	// with the wrong key or label stay out.
	outsiderWatch = 8 * time.Second
)

var (
	runID     = dockertest.RandomHex(4)
	image     = "gencluster-systemtest:" + runID
	buildOnce sync.Once
	buildErr  error
)
