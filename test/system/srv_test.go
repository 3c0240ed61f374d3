//go:build system

package system

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// srvName is the SRV record set dnsmasq serves in TestConvergeFromSRV.
const srvName = "_gossip._tcp.cluster.test"

// startDnsmasq runs dnsmasq on the host, listening only on the test
// network's gateway address, authoritative for nothing but the records
// given: one A record per host and one SRV record per host on the gossip
// port. It is stopped when the test ends, before the network is removed.
func (c *cluster) startDnsmasq(hosts map[string]string) {
	c.t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		c.t.Fatalf("the SRV scenario needs dnsmasq (apt-get install dnsmasq-base): %v", err)
	}
	args := []string{"--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
		"--bind-interfaces", "--listen-address=" + c.Gateway(), "--port=53", "--pid-file=",
		"--log-queries", "--log-facility=-", "--local=/cluster.test/"}
	for h, ip := range hosts {
		args = append(args,
			fmt.Sprintf("--host-record=%s,%s", h, ip),
			fmt.Sprintf("--srv-host=%s,%s,%d,0,10", srvName, h, gossipPort))
	}
	cmd := exec.Command(bin, args...)
	out := &dockertest.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting dnsmasq: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if c.t.Failed() {
			c.t.Logf("--- dnsmasq output:\n%s", out.String())
		}
	})
	// Wait until it answers (or fail if it exited: port 53 taken?).
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", net.JoinHostPort(c.Gateway(), "53"))
	}}
	c.waitFor("dnsmasq answers "+srvName, 10*time.Second, func() error {
		select {
		case err := <-exited:
			exited <- err
			c.t.Fatalf("dnsmasq exited: %v\n%s", err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, srvs, err := r.LookupSRV(ctx, "", "", srvName)
		if err != nil {
			return err
		}
		if len(srvs) != len(hosts) {
			return fmt.Errorf("%d SRV records, want %d", len(srvs), len(hosts))
		}
		return nil
	})
}

// TestConvergeFromSRV (discovery through SRV records): dnsmasq, on the
// host, serves an SRV record set naming every node (target host name and
// gossip port) and their A records; the nodes use it through Docker's
// embedded DNS (docker run --dns <gateway>), have no network alias, and
// are seeded only with GENCLUSTER_SEEDS=dnssrv+_gossip._tcp.cluster.test.
// They form one cluster.
func TestConvergeFromSRV(t *testing.T) {
	const n = 4
	c := newNetwork(t)
	c.dns = c.Gateway()
	c.seedSpec = "dnssrv+" + srvName
	hosts := map[string]string{}
	for i := range n {
		// The addresses startN hands out, in order.
		hosts[fmt.Sprintf("node%d.cluster.test", i+1)] = fmt.Sprintf("%s%d", c.Prefix, c.nextIP+i)
	}
	c.startDnsmasq(hosts)
	start := time.Now()
	c.startN(n)
	took := c.waitWhole("all nodes see all nodes (seeded by SRV)", convergeTimeout)
	// The addresses came from the SRV backend: its last run found them all.
	for _, o := range c.names {
		v, err := c.Metric(o, "gencluster_discovery_peers", `backend="dnssrv`)
		if err != nil || v != n {
			t.Errorf("%s: gencluster_discovery_peers{backend=dnssrv...} = %v (err %v), want %d", o, v, err, n)
		}
	}
	t.Logf("measured: SRV (dnsmasq) nodes=%d converge=%s (after the last container started) first-start-to-converged=%s",
		n, secs(took), secs(time.Since(start)))
}
