// Package test checks the deployment examples (examples/k8s and
// examples/compose) without a cluster: the manifests parse, use the
// environment variables gencluster.FromEnv reads, and agree with each
// other on names and ports. The system tests, which run real clusters,
// are in test/system.
package test
