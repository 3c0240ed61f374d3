// Package cluster holds gencluster's cluster-level tests: several Nodes in
// one process on loopback (and loopback aliases), driven through the
// public API only: partitions that heal, hostile input, security (keys,
// labels, address filters, name theft), key rotation, a DNS-discovered
// cluster, and name reuse after a restart. `go test ./...` runs them.
package cluster
