// Package dockertest is the harness that test/system and test/realpeers
// share to run the node program (examples/node) in Docker containers of
// their own: it builds the FROM scratch image, creates a labelled network
// with a random /24, starts containers with their own IPs, cuts packets
// between them with iptables in their network namespaces, and reads the
// node program's status endpoints (/members, /metrics).
//
// It starts nothing when imported: every function is called by a test,
// which gets its own network, removed when it ends. Everything it creates
// carries the label Label, which .ci/run removes when a run was
// interrupted:
//
//	docker rm -f $(docker ps -aq -f label=gencluster.systemtest)
package dockertest
