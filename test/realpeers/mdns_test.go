//go:build realpeers

package realpeers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The mDNS interop tests (issue 14, part 3) run gencluster nodes next to
// Debian's avahi-daemon, in network namespaces of their own joined by a
// bridge, so that no mDNS packet reaches the host's network:
//
//	root netns:   gcmd<id>h, 10.214.X.1/24 (the test reaches the nodes' HTTP here)
//	gcmd<id>-hub: bridge br0, iptables of its own (the host's FORWARD
//	              policy, DROP under Docker, does not apply)
//	gcmd<id>-a:   avahi-daemon (private D-Bus), node mdns-a without discovery
//	gcmd<id>-b/c: nodes mdns-b and mdns-c seeded with mdns+_gencluster._udp
//
// Everything is named gcmd<id>...; after a crash:
//
//	for n in $(ip netns list | grep -o '^gcmd[^ ]*'); do ip netns del $n; done
//
// Run them with test/realpeers/ci-mdns.sh, which installs avahi.

// mdnsService is the DNS-SD service type the nodes use.
const mdnsService = "_gencluster._udp"

type mdnsLab struct {
	t      *testing.T
	id     string
	dir    string
	prefix string // "10.214.X."
	ula    string // "fdXX:XXXX:XXXX::", every host's IPv6 /64
	hub    string
	gw     string
	hosts  map[string]string // name -> netns
	ips    map[string]string // name -> IP
	ip6s   map[string]string // name -> IPv6 (ULA)
	bus    string            // DBUS_SYSTEM_BUS_ADDRESS of the private bus
	procs  []*mdnsProc
}

type mdnsProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func mdnsRequire(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the mDNS interop tests need root (network namespaces, avahi-daemon); run test/realpeers/ci-mdns.sh as root")
	}
	for _, tool := range []string{"ip", "unshare", "mount", "dbus-daemon", "avahi-daemon", "avahi-browse", "avahi-publish", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the mDNS interop tests need %s (apt-get install iproute2 util-linux dbus avahi-daemon avahi-utils; see ci-mdns.sh): %v", tool, err)
		}
	}
}

func mdnsHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func (l *mdnsLab) run(args ...string) string {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newMDNSLab creates the hub, the gateway and one namespace per name.
func newMDNSLab(t *testing.T, names ...string) *mdnsLab {
	t.Helper()
	l := &mdnsLab{t: t, id: mdnsHex(t, 3), dir: t.TempDir(), hosts: map[string]string{}, ips: map[string]string{}, ip6s: map[string]string{}}
	u := mdnsHex(t, 5)
	l.ula = "fd" + u[:2] + ":" + u[2:6] + ":" + u[6:10] + "::"
	routes := l.run("ip", "-4", "route")
	for i := 0; ; i++ {
		var b [1]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		l.prefix = fmt.Sprintf("10.214.%d.", int(b[0])%250+1)
		if !strings.Contains(routes, l.prefix) {
			break
		}
		if i > 50 {
			t.Fatal("no free 10.214.X.0/24")
		}
	}
	l.hub, l.gw = "gcmd"+l.id+"-hub", "gcmd"+l.id+"h"
	t.Cleanup(l.cleanup)
	l.run("ip", "netns", "add", l.hub)
	l.run("ip", "-n", l.hub, "link", "set", "lo", "up")
	l.run("ip", "-n", l.hub, "link", "add", "br0", "type", "bridge")
	l.run("ip", "-n", l.hub, "link", "set", "br0", "up")
	// Bridged frames skip iptables in the hub (where the table is empty
	// anyway); not every kernel has the knob.
	_ = exec.Command("ip", "netns", "exec", l.hub, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0").Run()
	l.run("ip", "link", "add", l.gw, "type", "veth", "peer", "name", "gw", "netns", l.hub)
	l.run("ip", "-n", l.hub, "link", "set", "gw", "master", "br0", "up")
	l.run("ip", "addr", "add", l.prefix+"1/24", "dev", l.gw)
	l.run("ip", "link", "set", l.gw, "up")
	for i, name := range names {
		ns := "gcmd" + l.id + "-" + name
		ip := fmt.Sprintf("%s%d", l.prefix, i+2)
		port := fmt.Sprintf("p%d", i)
		l.run("ip", "netns", "add", ns)
		l.hosts[name], l.ips[name] = ns, ip
		l.run("ip", "-n", l.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		l.run("ip", "-n", l.hub, "link", "set", port, "master", "br0", "up")
		l.run("ip", "-n", ns, "link", "set", "lo", "up")
		l.run("ip", "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		l.ip6s[name] = fmt.Sprintf("%s%d", l.ula, i+2)
		l.run("ip", "-n", ns, "-6", "addr", "add", l.ip6s[name]+"/64", "dev", "eth0", "nodad")
		l.run("ip", "-n", ns, "link", "set", "eth0", "up")
		l.run("ip", "-n", ns, "route", "add", "default", "via", l.prefix+"1")
	}
	return l
}

func (l *mdnsLab) cleanup() {
	// Processes first (newest first), then the namespaces.
	for i := len(l.procs) - 1; i >= 0; i-- {
		l.procs[i].stop()
	}
	if l.t.Failed() {
		for _, p := range l.procs {
			b, _ := os.ReadFile(p.log)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			l.t.Logf("--- end of the output of %s:\n%s", p.name, b)
		}
	}
	for _, ns := range l.hosts {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.hub).Run()
	_ = exec.Command("ip", "link", "del", l.gw).Run()
}

// start runs argv in host's namespace ("" for the root one), its output
// in a file, stopped (SIGTERM, then SIGKILL) when the test ends.
func (l *mdnsLab) start(name, host string, env []string, argv ...string) *mdnsProc {
	l.t.Helper()
	if host != "" {
		argv = append([]string{"ip", "netns", "exec", l.hosts[host]}, argv...)
	}
	p := &mdnsProc{name: name, log: filepath.Join(l.dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		l.t.Fatal(err)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		f.Close()
		l.t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	l.procs = append(l.procs, p)
	return p
}

func (p *mdnsProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *mdnsProc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func (p *mdnsProc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitFor polls cond every 100ms until it returns nil or timeout passes,
// then fails the test; it returns how long it took.
func (l *mdnsLab) waitFor(what string, timeout time.Duration, cond func() error) time.Duration {
	l.t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			took := time.Since(start)
			l.t.Logf("%s: after %v", what, took.Round(10*time.Millisecond))
			return took
		}
		if time.Since(start) > timeout {
			l.t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startAvahi starts a private system bus and avahi-daemon in host, with
// configurations of the test's own: a private /run (avahi's pid file and
// socket), IPv4 on eth0 only, no wide-area DNS-SD.
func (l *mdnsLab) startAvahi(host string) {
	l.t.Helper()
	sock := filepath.Join(l.dir, "bus")
	busConf := filepath.Join(l.dir, "bus.conf")
	mdnsWrite(l.t, busConf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
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
	bus := l.start("dbus-daemon", "", nil, "dbus-daemon", "--config-file="+busConf, "--nofork", "--nopidfile")
	l.waitFor("the private D-Bus listens", 10*time.Second, func() error {
		if bus.exited() {
			l.t.Fatalf("dbus-daemon exited: %s", bus.output())
		}
		_, err := os.Stat(sock)
		return err
	})
	l.bus = "unix:path=" + sock
	conf := filepath.Join(l.dir, "avahi-daemon.conf")
	mdnsWrite(l.t, conf, `[server]
host-name=gcavahi`+l.id+`
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
	avahi := l.start("avahi-daemon", host, []string{"DBUS_SYSTEM_BUS_ADDRESS=" + l.bus}, "unshare", "-m", "sh", "-c", script)
	l.waitFor("avahi-daemon is up", 20*time.Second, func() error {
		if avahi.exited() {
			l.t.Fatalf("avahi-daemon exited: %s", avahi.output())
		}
		if !strings.Contains(avahi.output(), "Server startup complete") {
			return fmt.Errorf("no \"Server startup complete\" in its output yet")
		}
		return nil
	})
}

func mdnsWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mdnsBuildNode builds examples/node for the test.
func mdnsBuildNode(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "gencluster-node")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/node")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/node: %v\n%s", err, out)
	}
	return bin
}

// startNode runs the node program in host as name, seeded with seeds
// ("" for none), gossiping on the host's IPv4 address (or its IPv6 one
// with ipv6); the status endpoint is on IPv4.
func (l *mdnsLab) startNode(bin, name, host, seeds string, ipv6 ...bool) *mdnsProc {
	bind := l.ips[host] + ":7946"
	if len(ipv6) > 0 && ipv6[0] {
		bind = "[" + l.ip6s[host] + "]:7946"
	}
	env := []string{
		"GENCLUSTER_NAME=" + name,
		"GENCLUSTER_BIND=" + bind,
		"GENCLUSTER_REFRESH_INTERVAL=1s",
	}
	if seeds != "" {
		env = append(env, "GENCLUSTER_SEEDS="+seeds)
	}
	p := l.start(name, host, env, bin, "-fast", "-http", l.ips[host]+":8080", "-log-level", "debug")
	l.waitFor(name+" serves /healthz", 20*time.Second, func() error {
		if p.exited() {
			l.t.Fatalf("%s exited: %s", name, p.output())
		}
		resp, err := http.Get("http://" + l.ips[host] + ":8080/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return p
}

// members returns the names host's node lists, sorted.
func (l *mdnsLab) members(host string) ([]string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + l.ips[host] + ":8080/members")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ms []struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out, nil
}

// metric returns the sum of the samples of metric in host's /metrics
// whose labels contain match.
func (l *mdnsLab) metric(host, metric, match string) (float64, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + l.ips[host] + ":8080/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
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
			return 0, fmt.Errorf("%s: %q: %v", host, line, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, fmt.Errorf("%s: no %s{%s} in /metrics", host, metric, match)
	}
	return sum, nil
}

func (l *mdnsLab) sees(host string, want ...string) error {
	got, err := l.members(host)
	if err != nil {
		return err
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s sees %v, want %v", host, got, want)
	}
	return nil
}

// avahiBrowse returns the address:port of every resolved instance of
// the service that avahi-browse lists.
func (l *mdnsLab) avahiBrowse() (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "avahi-browse", "--resolve", "--parsable", "--terminate", "--no-db-lookup", mdnsService)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+l.bus)
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

// TestMDNSInteropAvahi: our backend against avahi, both ways. Nodes
// mdns-b and mdns-c announce and browse _gencluster._udp with seeds.MDNS;
// they find each other; avahi-browse lists both with their gossip address;
// and once avahi-publish announces the service at mdns-a's address (a node
// with no discovery of its own), both join mdns-a.
func TestMDNSInteropAvahi(t *testing.T) {
	mdnsRequire(t)
	l := newMDNSLab(t, "a", "b", "c")
	bin := mdnsBuildNode(t, l.dir)
	l.startAvahi("a")
	seeds := "mdns+" + mdnsService + "?interval=1s&timeout=300ms"
	start := time.Now()
	l.startNode(bin, "mdns-a", "a", "")
	l.startNode(bin, "mdns-b", "b", seeds)
	l.startNode(bin, "mdns-c", "c", seeds)

	t.Run("our nodes find each other", func(t *testing.T) {
		took := l.waitFor("mdns-b and mdns-c form a cluster over mDNS", 30*time.Second, func() error {
			if err := l.sees("b", "mdns-b", "mdns-c"); err != nil {
				return err
			}
			return l.sees("c", "mdns-b", "mdns-c")
		})
		t.Logf("%v after the last node started", took.Round(10*time.Millisecond))
		fmt.Printf("FIGURE mdns_pair_form=%.2fs\n", time.Since(start).Seconds())
	})
	t.Run("avahi-browse sees our announcements", func(t *testing.T) {
		var found map[string]string
		took := l.waitFor("avahi-browse lists mdns-b and mdns-c", 30*time.Second, func() error {
			var err error
			if found, err = l.avahiBrowse(); err != nil {
				return err
			}
			for _, h := range []string{"b", "c"} {
				desc, ok := found[l.ips[h]+":7946"]
				if !ok {
					return fmt.Errorf("no resolved instance at %s:7946 in %v", l.ips[h], found)
				}
				if !strings.Contains(desc, "gencluster=1") {
					return fmt.Errorf("instance at %s:7946 is %s, want TXT gencluster=1", l.ips[h], desc)
				}
			}
			return nil
		})
		t.Logf("avahi-browse: %v", found)
		fmt.Printf("FIGURE mdns_avahi_browse_sees=%.2fs\n", took.Seconds())
	})
	t.Run("our backend finds avahi-publish's service", func(t *testing.T) {
		if err := l.sees("a", "mdns-a"); err != nil {
			t.Fatalf("before avahi-publish: %v", err)
		}
		pub := l.start("avahi-publish", "a", []string{"DBUS_SYSTEM_BUS_ADDRESS=" + l.bus},
			"avahi-publish", "--service", "gencluster node a", mdnsService, "7946", "via=avahi")
		took := l.waitFor("mdns-b and mdns-c join mdns-a, announced by avahi-publish", 30*time.Second, func() error {
			if pub.exited() {
				t.Fatalf("avahi-publish exited: %s", pub.output())
			}
			for _, h := range []string{"a", "b", "c"} {
				if err := l.sees(h, "mdns-a", "mdns-b", "mdns-c"); err != nil {
					return err
				}
			}
			return nil
		})
		fmt.Printf("FIGURE mdns_avahi_publish_to_join=%.2fs\n", took.Seconds())
		// The backend's own counters: the instances it accepted (the
		// other node's and avahi's) and its browses.
		for _, h := range []string{"b", "c"} {
			for _, r := range []string{"accepted", "browse_ok"} {
				v, err := l.metric(h, "gencluster_mdns_events_total", `result="`+r+`"`)
				if err != nil || v == 0 {
					t.Errorf("%s: gencluster_mdns_events_total{result=%q} = %v (err %v), want > 0", h, r, v, err)
				}
			}
			if v, err := l.metric(h, "gencluster_mdns_events_total", `result="browse_error"`); err != nil || v != 0 {
				t.Errorf("%s: gencluster_mdns_events_total{result=\"browse_error\"} = %v (err %v), want 0", h, v, err)
			}
		}
	})
}

// TestMDNSIPv6: two nodes gossiping on IPv6 addresses find each other
// with AAAA records over ff02::fb (the backend browses in the family of
// the node's own address).
func TestMDNSIPv6(t *testing.T) {
	mdnsRequire(t)
	l := newMDNSLab(t, "d", "e")
	bin := mdnsBuildNode(t, l.dir)
	seeds := "mdns+" + mdnsService + "?interval=1s&timeout=300ms"
	start := time.Now()
	l.startNode(bin, "mdns-d", "d", seeds, true)
	l.startNode(bin, "mdns-e", "e", seeds, true)
	l.waitFor("mdns-d and mdns-e form a cluster over IPv6 mDNS", 30*time.Second, func() error {
		if err := l.sees("d", "mdns-d", "mdns-e"); err != nil {
			return err
		}
		return l.sees("e", "mdns-d", "mdns-e")
	})
	fmt.Printf("FIGURE mdns_ipv6_pair_form=%.2fs\n", time.Since(start).Seconds())
	resp, err := http.Get("http://" + l.ips["d"] + ":8080/members")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ms []struct {
		Name string `json:"name"`
		Addr string `json:"addr"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if want := map[string]string{"mdns-d": l.ip6s["d"], "mdns-e": l.ip6s["e"]}[m.Name]; m.Addr != "["+want+"]:7946" {
			t.Errorf("mdns-d lists %s at %s, want [%s]:7946", m.Name, m.Addr, want)
		}
	}
}
