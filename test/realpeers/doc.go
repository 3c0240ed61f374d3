//go:build realpeers

// Package realpeers tests gencluster against real peers nobody on the
// project wrote: a real Kubernetes API server (with etcd, the real
// controller-manager and kwok's fake nodes and pods), CoreDNS, and the other
// servers named in docs/realpeers.md.
//
// The tests are behind the build tag "realpeers", which .ci/run always
// sets. They need the binaries that build.sh builds or installs, Docker
// and root; a missing prerequisite fails the test, it never skips:
//
//	bash test/realpeers/build.sh
//	go test -tags realpeers -count=1 -v ./test/realpeers/ -run K8s
package realpeers
