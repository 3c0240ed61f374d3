//go:build nemesis

package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// Ports in every container, whatever the system.
const (
	gossipPort = 7946
	httpPort   = 8080 // the node programs' status endpoint
	serfRPC    = 7373 // serf's RPC port, which `serf members` asks
	alias      = "gossip"
)

// fleet is one system's containers on a network of their own. A node's
// name is its container's name. Every Network method runs on the test's
// goroutine; only the HTTP reads of the status endpoints run in parallel.
type fleet struct {
	*dockertest.Network
	t      *testing.T
	system string
	image  string
	names  []string // every node, in index order
	// fast runs the node programs with -fast timers; refresh is the
	// gencluster nodes' GENCLUSTER_REFRESH_INTERVAL ("" the default) and
	// dnsSeeds seeds them with the network alias instead of a static list.
	fast bool
	// suspicion, when above 0, is the node programs' -suspicion-mult.
	suspicion int
	refresh   string
	dnsSeeds  bool
	// saved holds the logs of every node's previous containers, and
	// incarnation counts its starts, for the metrics samples.
	saved       map[string][]string
	incarnation map[string]int
	// timeline, when set, is told every start's address.
	timeline *Timeline
}

// newFleet creates a network and starts n nodes of system at .10, .11, ...
func newFleet(t *testing.T, system, prefix string, n int, configure func(*fleet)) *fleet {
	t.Helper()
	f := &fleet{
		Network: dockertest.NewNetwork(t, dockertest.Config{
			Name: fmt.Sprintf("%s-%s-%s", prefix, runID, dockertest.RandomHex(2)), Subnet16: "10.198", HTTPPort: httpPort, LogTail: 30,
		}),
		t: t, system: system, image: image(t, system),
		saved: map[string][]string{}, incarnation: map[string]int{},
	}
	if configure != nil {
		configure(f)
	}
	for i := range n {
		f.names = append(f.names, fmt.Sprintf("%s-n%d", f.Name, i+1))
	}
	for i, name := range f.names {
		f.start(name, fmt.Sprintf("%s%d", f.Prefix, 10+i))
	}
	return f
}

// addr is name's gossip address, as members list it.
func (f *fleet) addr(name string) string { return fmt.Sprintf("%s:%d", f.IP(name), gossipPort) }

// others returns the gossip addresses of every node but name (the static
// seeds), at the addresses they were last started with.
func (f *fleet) others(name string) []string {
	var out []string
	for i, n := range f.names {
		if n == name {
			continue
		}
		ip := f.IP(n)
		if ip == "" { // not started yet: its first address
			ip = fmt.Sprintf("%s%d", f.Prefix, 10+i)
		}
		out = append(out, fmt.Sprintf("%s:%d", ip, gossipPort))
	}
	return out
}

// start runs name's container at ip.
func (f *fleet) start(name, ip string) {
	f.t.Helper()
	args := []string{"--network-alias", alias}
	bind := fmt.Sprintf("%s:%d", ip, gossipPort)
	switch f.system {
	case sysGencluster:
		seeds := "static+" + strings.Join(f.others(name), ",")
		if f.dnsSeeds {
			seeds = fmt.Sprintf("dns+%s:%d", alias, gossipPort)
		}
		args = append(args, "-e", "GENCLUSTER_NAME="+name, "-e", "GENCLUSTER_BIND="+bind, "-e", "GENCLUSTER_SEEDS="+seeds)
		if f.refresh != "" {
			args = append(args, "-e", "GENCLUSTER_REFRESH_INTERVAL="+f.refresh)
		}
		args = append(args, f.image, "-http", fmt.Sprintf(":%d", httpPort), "-leave-timeout", "5s", "-log-level", *flagLogLevel)
		args = append(args, f.timerFlags()...)
	case sysMemberlist:
		args = append(args, f.image, "-name", name, "-bind", bind, "-seeds", strings.Join(f.others(name), ","), "-http", fmt.Sprintf(":%d", httpPort))
		args = append(args, f.timerFlags()...)
	case sysSerf:
		// serf's lan profile (its default) is memberlist's LAN timers.
		args = append(args, f.image, "agent", "-node="+name, "-bind="+bind,
			fmt.Sprintf("-rpc-addr=0.0.0.0:%d", serfRPC), "-retry-interval=1s", "-log-level=info")
		for _, o := range f.others(name) {
			args = append(args, "-retry-join="+o)
		}
	}
	f.Run(name, ip, args...)
	f.incarnation[name]++
	if f.timeline != nil {
		f.timeline.Started(name, bind, time.Now())
	}
}

// timerFlags are the node programs' timer flags (both take the same).
func (f *fleet) timerFlags() []string {
	var args []string
	if f.fast {
		args = append(args, "-fast")
	}
	if f.suspicion > 0 {
		args = append(args, "-suspicion-mult", fmt.Sprint(f.suspicion))
	}
	return args
}

// dumpLogs writes the logs of every container the fleet ran (previous
// ones too) and the timeline into a new directory, for a failed run, and
// returns its path.
func (f *fleet) dumpLogs() (string, error) {
	dir, err := os.MkdirTemp("", "gencluster-nemesis-logs-")
	if err != nil {
		return "", err
	}
	for _, name := range f.names {
		logs := slices.Clone(f.saved[name])
		if f.Running(name) {
			if l, err := f.logs(name); err == nil {
				logs = append(logs, l)
			}
		}
		for i, l := range logs {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.%d.log", name, i+1)), []byte(l), 0o644); err != nil {
				return "", err
			}
		}
	}
	if f.timeline != nil {
		if err := os.WriteFile(filepath.Join(dir, "timeline.txt"), []byte(f.timeline.String()), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// logs returns `docker logs -t` of name's current container.
func (f *fleet) logs(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "logs", "-t", name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker logs %s: %v: %s", name, err, out)
	}
	return string(out), nil
}

// saveLogs keeps the logs of name's container before it is removed.
func (f *fleet) saveLogs(name string) {
	f.t.Helper()
	l, err := f.logs(name)
	if err != nil {
		f.t.Fatal(err)
	}
	f.saved[name] = append(f.saved[name], l)
}

// events returns the events name's current container logged.
func (f *fleet) events(name string) ([]LogEvent, error) {
	l, err := f.logs(name)
	if err != nil {
		return nil, err
	}
	return f.parse(name, l)
}

func (f *fleet) parse(name, logs string) ([]LogEvent, error) {
	if f.system == sysSerf {
		return ParseSerfLog(name, logs)
	}
	return ParseEventLog(name, logs)
}

// allEvents returns every event every container of the fleet logged,
// past ones included, by time, and every refutation they logged.
func (f *fleet) allEvents() ([]LogEvent, []Accusation) {
	f.t.Helper()
	var out []LogEvent
	var accs []Accusation
	for _, name := range f.names {
		logs := slices.Clone(f.saved[name])
		if f.Running(name) {
			l, err := f.logs(name)
			if err != nil {
				f.t.Fatal(err)
			}
			logs = append(logs, l)
		}
		for _, l := range logs {
			evs, err := f.parse(name, l)
			if err != nil {
				f.t.Fatal(err)
			}
			out = append(out, evs...)
			as, err := ParseAccusations(name, l)
			if err != nil {
				f.t.Fatal(err)
			}
			accs = append(accs, as...)
		}
	}
	SortEvents(out)
	return out, accs
}

// view returns the members name lists alive (or suspect), name -> addr.
func (f *fleet) view(name string) (map[string]string, error) {
	out := map[string]string{}
	if f.system == sysSerf {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b, err := exec.CommandContext(ctx, "serf", "members", fmt.Sprintf("-rpc-addr=%s:%d", f.IP(name), serfRPC), "-format=json").Output()
		if err != nil {
			return nil, fmt.Errorf("serf members at %s: %v", name, err)
		}
		var r struct {
			Members []struct{ Name, Addr, Status string } `json:"members"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("serf members at %s: %v: %s", name, err, b)
		}
		for _, m := range r.Members {
			if m.Status == "alive" {
				out[m.Name] = m.Addr
			}
		}
		return out, nil
	}
	var ms []dockertest.Member
	if err := f.GetJSON(name, "/members", &ms); err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.State == "alive" || m.State == "draining" || m.State == "suspect" {
			out[m.Name] = m.Addr
		}
	}
	return out, nil
}

// views asks every running node in names at once.
func (f *fleet) views(names []string) (map[string]map[string]string, error) {
	res := make([]map[string]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { res[i], errs[i] = f.view(n) })
	}
	wg.Wait()
	out := map[string]map[string]string{}
	for i, n := range names {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out[n] = res[i]
	}
	return out, nil
}

// whole reports nil when every node sees every node alive at its current
// address (serf's members show the address without the port).
func (f *fleet) whole() error {
	vs, err := f.views(f.names)
	if err != nil {
		return err
	}
	for _, o := range f.names {
		for _, p := range f.names {
			got, ok := vs[o][p]
			want := f.addr(p)
			if f.system == sysSerf {
				want = f.IP(p) + ":" + fmt.Sprint(gossipPort)
				if !strings.Contains(got, ":") {
					got += ":" + fmt.Sprint(gossipPort)
				}
			}
			if !ok || got != want {
				return fmt.Errorf("%s sees %s at %q, want %s (%d members listed)", o, p, got, want, len(vs[o]))
			}
		}
		if len(vs[o]) != len(f.names) {
			return fmt.Errorf("%s lists %d members, want %d", o, len(vs[o]), len(f.names))
		}
	}
	return nil
}

// waitWhole polls whole every 100ms for up to timeout and returns how
// long it took, or the last error.
func (f *fleet) waitWhole(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		err := f.whole()
		if err == nil {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
