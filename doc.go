// Package gencluster forms a cluster of Go services: every process runs a
// Node, the Nodes find each other through discovery backends, and each
// Node tells its program who is in the cluster, as the Erlang library
// gen_cluster does for a release.
//
// The data path, from the address of a peer to the program:
//
//	discover   discovery backends (package seeds: static, DNS A/SRV,
//	   |       Kubernetes, a file, a port range; seeds/multicast,
//	   |       seeds/mdns; WithSeeds) and the WithSnapshot file yield host:port
//	   v       addresses, re-run every WithRefreshInterval
//	join       the refresh loop joins every address that is not a live
//	   |       member, through the Dist (Connect), with backoff
//	   v
//	gossip     hashicorp/memberlist gossips the membership (SWIM) and
//	   |       detects failures; WithSecretKey, WithLabel and
//	   v       WithAllowedCIDRs secure it
//	adapter    package gossip, which owns every memberlist setting, turns its
//	   |       callbacks into Events, applied to the Node's one
//	   v       membership view
//	events     Node.Events and Node.Subscribe stream join, update, leave
//	members    and fail; Node.Members is the view; Node.Handler serves it;
//	metrics    WithMetrics exports Prometheus series, memberlist's too
//	ownership  Node.Ownership: who owns which key (package shard) and a
//	           stream of the changes, at the view's version
//
// Start a Node with Start and options (or FromEnv for GENCLUSTER_*
// variables), stop it with Leave (the others see a leave) or Close (they
// see a failure); before a Leave, Drain tells every member to move its
// work off the node, and returns when each has (StateDraining):
//
//	node, err := gencluster.Start(ctx,
//		gencluster.WithName("api-1"),
//		gencluster.WithSeeds(seeds.DNS("api-gossip.prod.svc.cluster.local", 7946)),
//	)
//	if err != nil { ... }
//	defer node.Leave(context.Background())
//	for ev := range node.Events() { ... }
//
// A stopped Node reports nothing stale: Members is empty, Ready false,
// its Handler answers 503, and every method that returns an error returns
// ErrStopped. Leave returns when its ctx ends, as http.Server.Shutdown
// does; Done is closed once the node has fully stopped.
//
// Names are unique: Start fails with ErrNameConflict when a live member
// holds the name at another address (Node.NameConflict reports a conflict
// noticed later). Every Start has a new boot id, Member.Boot, so a node
// restarted at once on the same address is seen to fail and join again.
package gencluster
