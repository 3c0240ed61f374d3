// Package multicast is the discovery backend that finds a gencluster
// Node's peers on the local network by UDP multicast announcements,
// authenticated with an HMAC when given a Secret.
//
// It is a package of its own, not part of package seeds, so that a program
// that never names multicast does not link it. Use it in code:
//
//	gencluster.WithSeeds(multicast.New("chat", multicast.Secret(secret)))
//
// or register its spec scheme, mcast+, on the seeds.Registry a program
// parses its specs with (GENCLUSTER_SEEDS too, through
// gencluster.SeedRegistry):
//
//	r := seeds.Default()
//	if err := multicast.Register(r); err != nil { ... }
//	env, err := gencluster.FromEnv(gencluster.SeedRegistry(r))
//
// docs/discovery.md has the options, the wire format and the metrics.
package multicast
