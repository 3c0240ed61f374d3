// Package mdns is the discovery backend that finds a gencluster Node's
// peers on the local network with multicast DNS service discovery (RFC
// 6762 and 6763, interoperable with avahi and Bonjour), built on
// github.com/hashicorp/mdns.
//
// It is a package of its own, not part of package seeds, so that a program
// that never names mDNS does not link it. Use it in code:
//
//	gencluster.WithSeeds(mdns.New("_chat._udp"))
//
// or register its spec scheme, mdns+, on the seeds.Registry a program
// parses its specs with (GENCLUSTER_SEEDS too, through
// gencluster.SeedRegistry):
//
//	r := seeds.Default()
//	if err := mdns.Register(r); err != nil { ... }
//	env, err := gencluster.FromEnv(gencluster.SeedRegistry(r))
//
// docs/mdns.md has the options, the metrics and the interop tests.
package mdns
