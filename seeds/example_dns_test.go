package seeds_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dnstest"
	"github.com/gencluster/gencluster/seeds"
)

// ExampleDNS looks up the A records of a Kubernetes headless Service. The
// example asks a dnstest server; in a pod, leave DNSResolver out and the
// cluster DNS of /etc/resolv.conf (with its search domains) is asked.
func ExampleDNS() {
	srv, err := dnstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetA("gossip.prod.svc.cluster.local.", "10.1.0.7", "10.1.0.5")

	d := seeds.DNS("gossip.prod.svc.cluster.local", 7946,
		seeds.DNSResolver(srv.Addr()), seeds.DNSTimeout(time.Second))
	addrs, err := d.Discover(context.Background())
	fmt.Println(d, addrs, err)

	srv.Remove("gossip.prod.svc.cluster.local.")
	_, err = d.Discover(context.Background())
	fmt.Println(errors.Is(err, seeds.ErrNXDomain))
	// Output:
	// dns+gossip.prod.svc.cluster.local:7946 [10.1.0.5:7946 10.1.0.7:7946] <nil>
	// true
}

// ExampleSRV looks up SRV records and resolves their targets, or returns
// the targets as host names with SRVHostNames.
func ExampleSRV() {
	srv, err := dnstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetSRV("_gossip._tcp.example.test.",
		dnstest.SRV{Target: "node-1.example.test.", Port: 7946, Priority: 10},
		dnstest.SRV{Target: "node-2.example.test.", Port: 7947, Priority: 20},
	)
	srv.SetA("node-1.example.test.", "192.0.2.1")
	srv.SetA("node-2.example.test.", "192.0.2.2")

	ips := seeds.SRV("_gossip._tcp.example.test", seeds.DNSResolver(srv.Addr()))
	addrs, err := ips.Discover(context.Background())
	fmt.Println(addrs, err)

	hosts := seeds.SRV("_gossip._tcp.example.test", seeds.DNSResolver(srv.Addr()), seeds.SRVHostNames())
	addrs, err = hosts.Discover(context.Background())
	fmt.Println(hosts, addrs, err)
	// Output:
	// [192.0.2.1:7946 192.0.2.2:7947] <nil>
	// dnssrvhost+_gossip._tcp.example.test [node-1.example.test:7946 node-2.example.test:7947] <nil>
}

// ExampleParse builds DNS discovery from spec strings, as a command-line
// flag or an environment variable would give them.
func ExampleParse() {
	d, err := seeds.Parse("dns46+gossip.prod.svc.cluster.local:7946 dnssrv+_gossip._tcp.gossip.prod.svc.cluster.local")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d)

	_, err = seeds.Parse("dns+gossip.prod.svc.cluster.local")
	fmt.Println(err)
	// Output:
	// dns46+gossip.prod.svc.cluster.local:7946 dnssrv+_gossip._tcp.gossip.prod.svc.cluster.local
	// seeds: spec "dns+gossip.prod.svc.cluster.local": "gossip.prod.svc.cluster.local": want name:port
}
