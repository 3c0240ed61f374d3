// Package system holds gencluster's system tests: real node processes in
// their own containers, with their own IPs, finding each other through a
// real DNS server (Docker's embedded DNS, and dnsmasq for SRV records),
// crashing, leaving, being partitioned and restarted, and keeping out nodes
// with the wrong key or label.
//
// The tests are behind the build tag "system", so that plain go test ./...
// neither builds nor runs them. They need a working Docker daemon,
// nsenter and iptables for the partition tests and dnsmasq for the SRV
// test, as root; they fail (never skip) without them:
//
//	go test -tags system -count=1 -v ./test/system/
//
// They build examples/node as a static binary, wrap it in a FROM scratch
// image, and run each scenario on a network of its own, removed at the end
// even when the test fails.
package system
