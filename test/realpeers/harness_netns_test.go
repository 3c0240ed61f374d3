//go:build realpeers

package realpeers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netLab is a private network of network namespaces, each host with its
// own addresses, the way containers have theirs but without Docker (whose
// daemon here has no IPv6):
//
//	host netns:  gcrp<id>h  (gateway: 10.213.X.1/24, fdXX:...::1/64)
//	     | veth
//	gcrp<id>-hub netns: bridge br0 (iptables of its own: empty, so the
//	     | veth, one per host     host's FORWARD policy does not apply)
//	gcrp<id>-<name> netns: eth0 (10.213.X.N, fdXX:...::N), lo
//
// The test process (in the host namespace) reaches every host through the
// gateway, and the DNS servers and Prometheus it starts listen there. The
// namespaces are deleted when the test ends, pass or fail; everything is
// named gcrp<id>... for a manual clean-up after a crash:
//
//	for n in $(ip netns list | grep -o '^gcrp[^ ]*'); do ip netns del $n; done
type netLab struct {
	t       *testing.T
	id      string
	hub     string
	hostIf  string
	v4, v6  bool
	prefix4 string // "10.213.37."
	prefix6 string // "fd12:3456:789a:bcde::"
	hosts   []*labHost
}

// labHost is one network namespace of a netLab.
type labHost struct {
	lab      *netLab
	name, ns string
	ip4, ip6 string // "" for a family the lab does not have
}

// newNetLab creates the hub and the gateway. v4 and v6 say which families
// the hosts get (at least one).
func newNetLab(t *testing.T, v4, v6 bool) *netLab {
	t.Helper()
	requireTools(t, "ip")
	if !v4 && !v6 {
		t.Fatal("newNetLab: no address family")
	}
	id := randomHex(t, 3)
	l := &netLab{t: t, id: id, hub: "gcrp" + id + "-hub", hostIf: "gcrp" + id + "h", v4: v4, v6: v6}
	l.pickPrefixes()
	t.Cleanup(l.cleanup)
	l.ip("netns", "add", l.hub)
	l.ip("-n", l.hub, "link", "set", "lo", "up")
	l.ip("-n", l.hub, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.hub, "link", "set", "br0", "up")
	l.ip("link", "add", l.hostIf, "type", "veth", "peer", "name", "gw", "netns", l.hub)
	l.ip("-n", l.hub, "link", "set", "gw", "master", "br0", "up")
	l.ip("addr", "add", l.prefix4+"1/24", "dev", l.hostIf)
	l.ip("-6", "addr", "add", l.prefix6+"1/64", "dev", l.hostIf, "nodad")
	l.ip("link", "set", l.hostIf, "up")
	return l
}

// pickPrefixes chooses a random 10.213.X.0/24 that no route of the host
// uses, and a random ULA /64.
func (l *netLab) pickPrefixes() {
	routes, err := exec.Command("ip", "-4", "route").CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip -4 route: %v: %s", err, routes)
	}
	for range 50 {
		p := fmt.Sprintf("10.213.%d.", rand.IntN(250)+1)
		if !strings.Contains(string(routes), p+"0/") {
			l.prefix4 = p
			break
		}
	}
	if l.prefix4 == "" {
		l.t.Fatal("no free 10.213.X.0/24")
	}
	l.prefix6 = fmt.Sprintf("fd%02x:%x:%x:%x::", rand.IntN(256), rand.IntN(1<<16), rand.IntN(1<<16), rand.IntN(1<<16))
}

// ip runs ip(8) with args; an error is fatal.
func (l *netLab) ip(args ...string) {
	l.t.Helper()
	mustRun(l.t, append([]string{"ip"}, args...)...)
}

// mustRun runs a short command; an error (or 30s) is fatal.
func mustRun(t *testing.T, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// gateway4 and gateway6 are the host namespace's addresses in the lab.
func (l *netLab) gateway4() string { return l.prefix4 + "1" }
func (l *netLab) gateway6() string { return l.prefix6 + "1" }

// addHost creates a namespace named name with the next addresses
// (.10, .11, ... and ::a, ::b, ...).
func (l *netLab) addHost(name string) *labHost {
	l.t.Helper()
	n := len(l.hosts) + 10
	h := &labHost{lab: l, name: name, ns: fmt.Sprintf("gcrp%s-%s", l.id, name)}
	peer := fmt.Sprintf("h%d", n)
	l.hosts = append(l.hosts, h)
	l.ip("netns", "add", h.ns)
	l.ip("-n", l.hub, "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	l.ip("-n", l.hub, "link", "set", peer, "master", "br0", "up")
	l.ip("-n", h.ns, "link", "set", "lo", "up")
	if l.v4 {
		h.ip4 = fmt.Sprintf("%s%d", l.prefix4, n)
		l.ip("-n", h.ns, "addr", "add", h.ip4+"/24", "dev", "eth0")
	}
	if l.v6 {
		h.ip6 = fmt.Sprintf("%s%x", l.prefix6, n)
		l.ip("-n", h.ns, "-6", "addr", "add", h.ip6+"/64", "dev", "eth0", "nodad")
	}
	l.ip("-n", h.ns, "link", "set", "eth0", "up")
	return h
}

// addHosts adds n hosts named n1 ... nN.
func (l *netLab) addHosts(n int) []*labHost {
	l.t.Helper()
	var out []*labHost
	for i := 1; i <= n; i++ {
		out = append(out, l.addHost(fmt.Sprintf("n%d", i)))
	}
	return out
}

// addr is the host's address to reach it at: IPv4 when it has one.
func (h *labHost) addr() string {
	if h.ip4 != "" {
		return h.ip4
	}
	return "[" + h.ip6 + "]"
}

// setResolvConf writes the resolv.conf that programs started with
// h.start see: ip netns exec bind-mounts /etc/netns/<ns>/resolv.conf over
// /etc/resolv.conf.
func (h *labHost) setResolvConf(content string) {
	h.lab.t.Helper()
	dir := filepath.Join("/etc/netns", h.ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.lab.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(content), 0o644); err != nil {
		h.lab.t.Fatal(err)
	}
}

// start runs argv inside the host's namespace (ip netns exec execs it, so
// the process's PID is the program's: a kill reaches it directly).
func (h *labHost) start(name string, env []string, argv ...string) *proc {
	h.lab.t.Helper()
	return startProc(h.lab.t, name, env, append([]string{"ip", "netns", "exec", h.ns}, argv...)...)
}

// run runs a short command (iptables) inside the host's namespace.
func (h *labHost) run(argv ...string) string {
	h.lab.t.Helper()
	return mustRun(h.lab.t, append([]string{"ip", "netns", "exec", h.ns}, argv...)...)
}

// cleanup deletes the namespaces (which deletes their veths, and so the
// gateway) and the resolv.conf files. Processes were stopped before: their
// clean-ups were registered later, so they ran first.
func (l *netLab) cleanup() {
	for _, h := range l.hosts {
		if out, err := exec.Command("ip", "netns", "del", h.ns).CombinedOutput(); err != nil {
			l.t.Errorf("cleanup: ip netns del %s: %v: %s", h.ns, err, out)
		}
		_ = os.RemoveAll(filepath.Join("/etc/netns", h.ns))
	}
	if out, err := exec.Command("ip", "netns", "del", l.hub).CombinedOutput(); err != nil {
		l.t.Errorf("cleanup: ip netns del %s: %v: %s", l.hub, err, out)
	}
	// The gateway veth goes with its peer; delete it in case it did not.
	_ = exec.Command("ip", "link", "del", l.hostIf).Run()
}
