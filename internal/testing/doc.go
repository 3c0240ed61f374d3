// Package testing is the parent of gencluster's test harnesses: testutil
// (Eventually and event logs), faultnet (a fault-injecting transport),
// dnstest (an authoritative DNS server in the test process) and dockertest
// (containers at given IPs, cuts, crashes). None of them is on the data
// path; they live apart from its stages so that internal/ reads as doc.go's
// diagram: refresh, hub, eventq, snapshot, backoff, joinfail.
package testing
