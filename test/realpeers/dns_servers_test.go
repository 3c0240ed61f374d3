//go:build realpeers

package realpeers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsLab is bind9 (named), authoritative for the test zones, and unbound,
// a resolver that forwards those zones to it (stub zones), both started by
// the test on 127.0.0.1, each on a random port (named listens only on
// addresses configured on an interface, so not on other 127.x addresses
// of lo), and optionally on a netLab's gateway too, where the lab's hosts
// reach them (on the same ports).
type dnsLab struct {
	t           *testing.T
	dir         string
	bindPort    int
	unboundPort int
	bind        string // named's loopback address, host:port
	unbound     string // unbound's loopback address, host:port
	dead        string // an address where nothing answers, host:port
	named       *proc
	unb         *proc
}

// dnsZones is the zone data: origin (no final dot) -> records after the
// SOA and NS, in zone file syntax. broken lists zones whose file is bad,
// so that named answers SERVFAIL for them.
type dnsZones struct {
	zones  map[string]string
	broken []string
}

// startDNSLab writes the configurations, starts named and unbound and
// waits until both answer. extra are more addresses (the lab gateway's)
// for both servers to listen on.
func startDNSLab(t *testing.T, z dnsZones, extra ...string) *dnsLab {
	t.Helper()
	requireTools(t, "named", "unbound")
	d := &dnsLab{t: t, dir: t.TempDir()}
	addrs := append([]string{"127.0.0.1"}, extra...)
	d.bindPort = freePort(t, addrs, 0)
	d.unboundPort = freePort(t, addrs, d.bindPort)
	d.bind = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.bindPort))
	d.unbound = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.unboundPort))
	d.dead = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t, addrs, d.bindPort, d.unboundPort)))

	d.writeNamed(z, extra)
	d.named = startProc(t, "named", nil, "named", "-g", "-n", "1", "-c", filepath.Join(d.dir, "named.conf"))
	d.waitAnswers("named", d.bind, d.named)
	d.unb = startProc(t, "unbound", nil, "unbound", "-d", "-c", d.writeUnbound(z, extra))
	d.waitAnswers("unbound", d.unbound, d.unb)
	return d
}

// freePort returns a port free for both UDP and TCP on every address.
func freePort(t *testing.T, addrs []string, not ...int) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(30000)
		ok := !slices.Contains(not, port)
		var closers []func() error
		for _, a := range addrs {
			if !ok {
				break
			}
			hp := net.JoinHostPort(a, strconv.Itoa(port))
			l, err := net.Listen("tcp", hp)
			if err != nil {
				ok = false
				break
			}
			closers = append(closers, l.Close)
			u, err := net.ListenPacket("udp", hp)
			if err != nil {
				ok = false
				break
			}
			closers = append(closers, u.Close)
		}
		for _, c := range closers {
			_ = c()
		}
		if ok {
			return port
		}
	}
	t.Fatalf("no free port on %v", addrs)
	return 0
}

func (d *dnsLab) write(name, content string) string {
	d.t.Helper()
	p := filepath.Join(d.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return p
}

// writeNamed writes named.conf and the zone files. The query log is on: a
// test counts the queries that came over TCP.
func (d *dnsLab) writeNamed(z dnsZones, extra []string) {
	v4 := []string{"127.0.0.1"}
	var v6 []string
	for _, a := range extra {
		if strings.Contains(a, ":") {
			v6 = append(v6, a)
		} else {
			v4 = append(v4, a)
		}
	}
	v6list := "none;"
	if len(v6) > 0 {
		v6list = strings.Join(v6, "; ") + ";"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
	listen-on port %[2]d { %[3]s; };
	listen-on-v6 port %[2]d { %[4]s };
	recursion no;
	dnssec-validation no;
	notify no;
	querylog yes;
	// bind 9.18.28 and later refuse more than 100 records of a type by
	// default; the truncation test needs more.
	max-records-per-type 0;
	// Fill the additional section (the A/AAAA records of SRV targets):
	// the resolver in front is configured not to, so both paths are tested.
	minimal-responses no;
};
controls { };
`, d.dir, d.bindPort, strings.Join(v4, "; "), v6list)
	for origin, records := range z.zones {
		file := d.write(origin+".zone", fmt.Sprintf("$TTL 1\n$ORIGIN %s.\n@ SOA ns.%s. admin.%s. 1 3600 600 86400 1\n@ NS ns.%s.\nns A 127.0.0.1\n%s\n",
			origin, origin, origin, origin, records))
		fmt.Fprintf(&b, "zone %q { type primary; file %q; };\n", origin, file)
	}
	for _, origin := range z.broken {
		file := d.write(origin+".zone", "$TTL 1\n@ SOA this is not a zone file\n")
		fmt.Fprintf(&b, "zone %q { type primary; file %q; };\n", origin, file)
	}
	d.write("named.conf", b.String())
}

// writeUnbound writes unbound.conf: no DNSSEC validation (module
// iterator only), every test zone a stub zone at named, plus dead.test
// also at named, which is not authoritative for it and refuses (unbound
// then answers SERVFAIL), silent.test at an address where nothing answers
// (unbound keeps trying for longer than a client waits), and minimal
// responses (no additional section).
func (d *dnsLab) writeUnbound(z dnsZones, extra []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
	verbosity: 1
	interface: %s
	port: %d
	access-control: 0.0.0.0/0 allow
	access-control: ::/0 allow
	chroot: ""
	username: ""
	directory: "%s"
	pidfile: ""
	use-syslog: no
	logfile: ""
	log-queries: yes
	do-daemonize: no
	num-threads: 1
	module-config: "iterator"
	do-not-query-localhost: no
	minimal-responses: yes
	qname-minimisation: no
	local-zone: "test." nodefault
	domain-insecure: "test."
	infra-cache-max-rtt: 1000
remote-control:
	control-enable: no
`, "127.0.0.1", d.unboundPort, d.dir)
	for _, a := range extra {
		fmt.Fprintf(&b, "server:\n\tinterface: %s\n", a)
	}
	stub := func(zone, at string) {
		h, p, _ := net.SplitHostPort(at)
		fmt.Fprintf(&b, "stub-zone:\n\tname: %q\n\tstub-addr: %s@%s\n", zone, h, p)
	}
	for origin := range z.zones {
		stub(origin, d.bind)
	}
	for _, origin := range z.broken {
		stub(origin, d.bind)
	}
	stub("dead.test", d.bind)
	stub("silent.test", d.dead)
	return d.write("unbound.conf", b.String())
}

// waitAnswers waits until the server at addr answers a query (any rcode).
func (d *dnsLab) waitAnswers(name, addr string, p *proc) {
	d.t.Helper()
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	labWait(d.t, name+" answers at "+addr, 20*time.Second, 100*time.Millisecond, func() error {
		if !p.running() {
			d.t.Fatalf("%s exited: %v\n%s", name, p.err, tail(p.out.String(), 3000))
		}
		q := new(dns.Msg)
		q.SetQuestion("rp.test.", dns.TypeSOA)
		_, _, err := c.Exchange(q, addr)
		return err
	})
}

// checkAskedUnbound checks that unbound's query log has a query for name
// from each of the clients (IP addresses): the nodes did go through it.
func (d *dnsLab) checkAskedUnbound(name string, clients []string) {
	d.t.Helper()
	log := d.unb.out.String()
	for _, c := range clients {
		if !strings.Contains(log, "info: "+c+" "+name) {
			d.t.Errorf("unbound logged no query for %s from %s", name, c)
		}
	}
}

// rawQuery asks server for name's records of qtype over net ("udp" or
// "tcp") with EDNS0 and a 1232-byte UDP size, as package seeds does.
func rawQuery(t *testing.T, server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second, UDPSize: 1232}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(1232, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, q, server)
	if err != nil && r == nil {
		t.Fatalf("%s %s %s at %s: %v", network, name, dns.TypeToString[qtype], server, err)
	}
	return r
}
