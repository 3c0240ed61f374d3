//go:build nemesis

package nemesis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// active is a fault being applied: what its heal must undo.
type active struct {
	Fault
	names []string
	// rules are the iptables rules inserted, per node, each as the
	// arguments after -I / -D.
	rules map[string][][]string
}

// starvedCPUs is the CPU share of a starved container (docker update
// --cpus).
const starvedCPUs = "0.05"

// apply starts fault f, records it on tl and returns what heal needs.
func (f *fleet) apply(flt Fault, tl *Timeline) *active {
	f.t.Helper()
	a := &active{Fault: flt, rules: map[string][][]string{}}
	for _, i := range flt.Nodes {
		a.names = append(a.names, f.names[i])
	}
	others := f.otherIPs(a.names)
	now := time.Now()
	for _, n := range a.names {
		tl.Begin(n, flt.Kind, now)
	}
	switch flt.Kind {
	case KillSameIP, KillNewIP:
		for _, n := range a.names {
			dockertest.Must(f.t, "kill", "-s", "KILL", n)
			f.saveLogs(n)
			f.Kill(n)
		}
	case Term:
		for _, n := range a.names {
			dockertest.Must(f.t, "stop", "-t", "20", n)
			f.saveLogs(n)
			f.Kill(n)
		}
	case Partition:
		a.rule("INPUT", "-s", others, "-j", "DROP")
		a.rule("OUTPUT", "-d", others, "-j", "DROP")
	case OneWayIn:
		a.rule("INPUT", "-s", others, "-j", "DROP")
	case OneWayOut:
		a.rule("OUTPUT", "-d", others, "-j", "DROP")
	case Loss:
		p := fmt.Sprintf("%.2f", float64(flt.LossPct)/100)
		a.rule("INPUT", "-s", others, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP")
		a.rule("OUTPUT", "-d", others, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP")
	case Starve:
		for _, n := range a.names {
			dockertest.Must(f.t, "update", "--cpus", starvedCPUs, n)
		}
	}
	for n, rs := range a.rules {
		for _, r := range rs {
			f.IPTables(n, append([]string{"-I"}, r...)...)
		}
	}
	return a
}

// rule adds one rule to every node of the fault.
func (a *active) rule(args ...string) {
	for _, n := range a.names {
		a.rules[n] = append(a.rules[n], args)
	}
}

// heal ends the fault and records the end on tl.
func (f *fleet) heal(a *active, tl *Timeline) {
	f.t.Helper()
	for n, rs := range a.rules {
		for _, r := range rs {
			f.IPTables(n, append([]string{"-D"}, r...)...)
		}
	}
	switch a.Kind {
	case KillSameIP, Term:
		for _, n := range a.names {
			f.start(n, f.IP(n))
		}
	case KillNewIP:
		for _, n := range a.names {
			f.start(n, f.newIP(f.IP(n)))
		}
	case Starve:
		for _, n := range a.names {
			f.unstarve(n)
		}
	}
	now := time.Now()
	for _, n := range a.names {
		tl.End(n, a.Kind, now)
	}
}

// unstarve gives name every CPU of the machine again and checks that
// Docker did. docker update cannot remove a --cpus limit (--cpus 0 is
// ignored), so the limit becomes the daemon's CPU count: no limit.
func (f *fleet) unstarve(name string) {
	f.t.Helper()
	ncpu := dockertest.Must(f.t, "info", "--format", "{{.NCPU}}")
	dockertest.Must(f.t, "update", "--cpus", ncpu, name)
	if got := dockertest.Must(f.t, "inspect", "-f", "{{.HostConfig.NanoCpus}}", name); got != ncpu+"000000000" {
		f.t.Fatalf("docker update --cpus %s %s left NanoCpus=%s", ncpu, name, got)
	}
}

// otherIPs returns the addresses of every node not in group, comma-joined
// for an iptables rule.
func (f *fleet) otherIPs(group []string) string {
	var ips []string
	for _, n := range f.names {
		if !slices.Contains(group, n) && f.IP(n) != "" {
			ips = append(ips, f.IP(n))
		}
	}
	return strings.Join(ips, ",")
}

// newIP returns an address of the network that no node has and that is
// not old: the lowest free one from .10 up, after old's.
func (f *fleet) newIP(old string) string {
	used := map[string]bool{old: true}
	for _, n := range f.names {
		used[f.IP(n)] = true
	}
	var last int
	_, _ = fmt.Sscanf(strings.TrimPrefix(old, f.Prefix), "%d", &last)
	for k := range 240 {
		ip := fmt.Sprintf("%s%d", f.Prefix, 10+(last-10+1+k)%240)
		if !used[ip] {
			return ip
		}
	}
	f.t.Fatal("no free address in the network")
	return ""
}
