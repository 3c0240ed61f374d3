//go:build realpeers

package realpeers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The mDNS interop tests (issue 14, part 3) run gencluster nodes next to
// Debian's avahi-daemon in the lab network of harness_netns_test.go: every
// mDNS packet stays on the lab's bridge, none reaches the host's network.
//
//	host mdns-a:      avahi-daemon (a private D-Bus, a configuration of the
//	                  test's own) and a node with no discovery
//	hosts mdns-b, -c: nodes seeded with mdns+_gencluster._udp
//
// Run them with test/realpeers/ci-mdns.sh, which installs avahi.

// mdnsService is the DNS-SD service type the nodes use.
const mdnsService = "_gencluster._udp"

// mdnsSeeds browses every second, so that the tests take seconds.
const mdnsSeeds = "mdns+" + mdnsService + "?interval=1s&timeout=300ms"

// requireAvahi fails the test, saying what to install, without avahi.
func requireAvahi(t *testing.T) {
	t.Helper()
	requireTools(t, "ip")
	for _, tool := range []string{"unshare", "mount", "dbus-daemon", "avahi-daemon", "avahi-browse", "avahi-publish"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the mDNS interop tests need %s (apt-get install util-linux mount dbus avahi-daemon avahi-utils; test/realpeers/ci-mdns.sh installs them): %v", tool, err)
		}
	}
}

// addMulticastRoute gives h a route to the IPv4 multicast groups: the lab
// hosts have no default route, and without one a socket cannot join
// 224.0.0.251 on "the interface the routing table gives".
func addMulticastRoute(h *labHost) {
	h.run("ip", "route", "add", "224.0.0.0/4", "dev", "eth0")
}

// avahi is an avahi-daemon running in a lab host, with its private bus.
type avahi struct {
	bus string // DBUS_SYSTEM_BUS_ADDRESS for the avahi clients
}

// startAvahi starts a private system bus (a socket in a temporary
// directory; D-Bus over a Unix socket does not care about network
// namespaces) and avahi-daemon in h, under a private /run (avahi's pid
// file and socket), on eth0 over IPv4 only, with no wide-area DNS-SD.
func startAvahi(t *testing.T, h *labHost) *avahi {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	busConf := filepath.Join(dir, "bus.conf")
	mustWrite(t, busConf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=`+sock+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`)
	bus := startProc(t, "dbus-daemon", nil, "dbus-daemon", "--config-file="+busConf, "--nofork", "--nopidfile")
	labWait(t, "the private D-Bus listens", 10*time.Second, 50*time.Millisecond, func() error {
		if !bus.running() {
			t.Fatalf("dbus-daemon exited: %v: %s", bus.err, bus.out)
		}
		_, err := os.Stat(sock)
		return err
	})
	a := &avahi{bus: "unix:path=" + sock}
	conf := filepath.Join(dir, "avahi-daemon.conf")
	mustWrite(t, conf, `[server]
host-name=gcavahi`+randomHex(t, 3)+`
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
[reflector]
enable-reflector=no
`)
	script := "mount -t tmpfs tmpfs /run && mkdir -p /run/avahi-daemon && exec avahi-daemon -f " + conf + " --no-drop-root --no-chroot --no-rlimits --debug"
	d := h.start("avahi-daemon", a.env(), "unshare", "-m", "sh", "-c", script)
	labWait(t, "avahi-daemon is up", 20*time.Second, 100*time.Millisecond, func() error {
		if !d.running() {
			t.Fatalf("avahi-daemon exited: %v: %s", d.err, d.out)
		}
		if !strings.Contains(d.out.String(), "Server startup complete") {
			return fmt.Errorf("no \"Server startup complete\" in its output yet")
		}
		return nil
	})
	return a
}

func (a *avahi) env() []string { return []string{"DBUS_SYSTEM_BUS_ADDRESS=" + a.bus} }

// browse returns the "address:port" of every resolved instance of the
// service avahi-browse lists, with its instance name and TXT.
func (a *avahi) browse() (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "avahi-browse", "--resolve", "--parsable", "--terminate", "--no-db-lookup", mdnsService)
	cmd.Env = append(os.Environ(), a.env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("avahi-browse: %v: %s", err, out)
	}
	found := map[string]string{}
	// =;eth0;IPv4;<instance>;<type>;<domain>;<host>;<address>;<port>;<txt>
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ";")
		if len(f) >= 10 && f[0] == "=" && f[4] == mdnsService {
			found[f[7]+":"+f[8]] = f[3] + " txt=" + f[9]
		}
	}
	return found, nil
}

// metric returns the sum of the samples of metric in n's /metrics whose
// labels contain match, and an error when there is none.
func (n *labNode) metric(metric, match string) (float64, error) {
	b, err := n.get("/metrics")
	if err != nil {
		return 0, err
	}
	var sum float64
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, match) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %v", n.name, line, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, fmt.Errorf("%s: no %s{%s} in /metrics", n.name, metric, match)
	}
	return sum, nil
}

// TestMDNSInteropAvahi: our backend against avahi, both ways. Nodes
// mdns-b and mdns-c announce and browse _gencluster._udp with mdns.New
// and find each other; avahi-browse lists both with their gossip address
// and TXT; once avahi-publish announces the service at mdns-a's address (a
// node with no discovery of its own), both join mdns-a.
func TestMDNSInteropAvahi(t *testing.T) {
	checkLeaks(t)
	requireAvahi(t)
	l := newNetLab(t, true, false)
	ha, hb, hc := l.addHost("mdns-a"), l.addHost("mdns-b"), l.addHost("mdns-c")
	for _, h := range []*labHost{ha, hb, hc} {
		addMulticastRoute(h)
	}
	nodeBinary(t) // built before the clock starts
	av := startAvahi(t, ha)
	start := time.Now()
	a := startNode(t, ha, nodeConf{refresh: "1s", fast: true})
	b := startNode(t, hb, nodeConf{seeds: mdnsSeeds, refresh: "1s", fast: true})
	c := startNode(t, hc, nodeConf{seeds: mdnsSeeds, refresh: "1s", fast: true})

	t.Run("our nodes find each other", func(t *testing.T) {
		waitWhole(t, "mdns-b and mdns-c form a cluster over mDNS", 30*time.Second, []*labNode{b, c})
		figure(t, "mdns_pair_form", time.Since(start))
	})
	t.Run("avahi-browse sees our announcements", func(t *testing.T) {
		var found map[string]string
		took := labWait(t, "avahi-browse lists mdns-b and mdns-c", 30*time.Second, 100*time.Millisecond, func() error {
			var err error
			if found, err = av.browse(); err != nil {
				return err
			}
			for _, h := range []*labHost{hb, hc} {
				desc, ok := found[fmt.Sprintf("%s:%d", h.ip4, gossipPort)]
				if !ok {
					return fmt.Errorf("no resolved instance at %s:%d in %v", h.ip4, gossipPort, found)
				}
				if !strings.Contains(desc, `"gencluster=1"`) {
					return fmt.Errorf("the instance at %s:%d is %s, want TXT gencluster=1", h.ip4, gossipPort, desc)
				}
			}
			return nil
		})
		t.Logf("avahi-browse: %v", found)
		figure(t, "mdns_avahi_browse_sees", took)
	})
	t.Run("our backend finds avahi-publish's service", func(t *testing.T) {
		if err := viewIs([]*labNode{a}, []string{a.name}); err != nil {
			t.Fatalf("before avahi-publish: %v", err)
		}
		pub := ha.start("avahi-publish", av.env(), "avahi-publish", "--service", "gencluster node a", mdnsService, strconv.Itoa(gossipPort), "via=avahi")
		took := labWait(t, "mdns-b and mdns-c join mdns-a, announced by avahi-publish", 30*time.Second, 100*time.Millisecond, func() error {
			if !pub.running() {
				t.Fatalf("avahi-publish exited: %v: %s", pub.err, pub.out)
			}
			return viewIs([]*labNode{a, b, c}, []string{a.name, b.name, c.name})
		})
		figure(t, "mdns_avahi_publish_to_join", took)
		// The backend's own counters: instances accepted (the other
		// node's, avahi's), browses, and no failed browse.
		for _, n := range []*labNode{b, c} {
			for _, r := range []string{"accepted", "browse_ok"} {
				if v, err := n.metric("gencluster_mdns_events_total", `result="`+r+`"`); err != nil || v == 0 {
					t.Errorf("%s: gencluster_mdns_events_total{result=%q} = %v (err %v), want > 0", n.name, r, v, err)
				}
			}
			if v, err := n.metric("gencluster_mdns_events_total", `result="browse_error"`); err != nil || v != 0 {
				t.Errorf("%s: gencluster_mdns_events_total{result=\"browse_error\"} = %v (err %v), want 0", n.name, v, err)
			}
		}
	})
}

// TestMDNSIPv6: two nodes gossiping on IPv6 addresses find each other
// through AAAA records over ff02::fb (the backend browses in the family
// of the node's own address).
func TestMDNSIPv6(t *testing.T) {
	checkLeaks(t)
	requireTools(t, "ip")
	l := newNetLab(t, true, true)
	hd, he := l.addHost("mdns-d"), l.addHost("mdns-e")
	nodeBinary(t)
	start := time.Now()
	var nodes []*labNode
	for _, h := range []*labHost{hd, he} {
		nodes = append(nodes, startNode(t, h, nodeConf{seeds: mdnsSeeds, refresh: "1s", fast: true, bind: fmt.Sprintf("[%s]:%d", h.ip6, gossipPort)}))
	}
	waitWhole(t, "mdns-d and mdns-e form a cluster over IPv6 mDNS", 30*time.Second, nodes)
	figure(t, "mdns_ipv6_pair_form", time.Since(start))
	ms, err := nodes[0].members()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		want := map[string]string{hd.name: hd.ip6, he.name: he.ip6}[m.Name]
		if m.Addr != fmt.Sprintf("[%s]:%d", want, gossipPort) {
			t.Errorf("%s lists %s at %s, want [%s]:%d", nodes[0].name, m.Name, m.Addr, want, gossipPort)
		}
	}
}

// TestMDNSNoMulticastRoute: on a host with no route to 224.0.0.251 the
// node does not start, with an error that says what is missing.
func TestMDNSNoMulticastRoute(t *testing.T) {
	checkLeaks(t)
	requireTools(t, "ip")
	l := newNetLab(t, true, false)
	h := l.addHost("mdns-f")
	n := startNode(t, h, nodeConf{seeds: mdnsSeeds, refresh: "1s", fast: true})
	labWait(t, "the node exits", 30*time.Second, 100*time.Millisecond, func() error {
		if n.proc.running() {
			return fmt.Errorf("still running")
		}
		return nil
	})
	if out := n.proc.out.String(); !strings.Contains(out, "joining 224.0.0.251:5353") || !strings.Contains(out, "needs a route to the group") {
		t.Fatalf("the node's output does not explain the failure:\n%s", tail(out, 2000))
	}
}
