//go:build realpeers

package realpeers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Ports of the node program in its namespace, and of mlnode (the
// hand-wired memberlist control) beside it: other ports, so that neither
// cluster can answer for the other.
const (
	gossipPort   = 7946
	httpPort     = 8080
	mlGossipPort = 7947
	mlHTTPPort   = 8081
)

// nodeConf is how a gencluster node is started: the GENCLUSTER_*
// environment and the program's flags.
type nodeConf struct {
	seeds     string // GENCLUSTER_SEEDS
	bind      string // GENCLUSTER_BIND; default the host's address:7946
	advertise string // GENCLUSTER_ADVERTISE, if any
	refresh   string // GENCLUSTER_REFRESH_INTERVAL, if any
	fast      bool   // -fast (test timers) instead of memberlist's LAN defaults
}

// labNode is a node program (or mlnode, which serves the same /members,
// /events and /metrics) running in a labHost.
type labNode struct {
	t      *testing.T
	host   *labHost
	name   string
	port   int // the HTTP port
	proc   *proc
	client *http.Client
}

// newHTTPClient returns a client without keep-alives, so that no idle
// connection (and its goroutines) outlives a request.
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// startNode runs the node program in h, named after h.
func startNode(t *testing.T, h *labHost, c nodeConf) *labNode {
	t.Helper()
	bin := nodeBinary(t)
	bind := c.bind
	if bind == "" {
		bind = fmt.Sprintf("%s:%d", h.addr(), gossipPort)
	}
	env := []string{"GENCLUSTER_NAME=" + h.name, "GENCLUSTER_BIND=" + bind, "GENCLUSTER_SEEDS=" + c.seeds}
	if c.advertise != "" {
		env = append(env, "GENCLUSTER_ADVERTISE="+c.advertise)
	}
	if c.refresh != "" {
		env = append(env, "GENCLUSTER_REFRESH_INTERVAL="+c.refresh)
	}
	args := []string{bin, "-http", fmt.Sprintf(":%d", httpPort), "-leave-timeout", "3s", "-log-level", "debug"}
	if c.fast {
		args = append(args, "-fast")
	}
	return &labNode{t: t, host: h, name: h.name, port: httpPort, proc: h.start("node "+h.name, env, args...), client: newHTTPClient()}
}

// startMLNodes starts mlnode on every host (memberlist.DefaultLANConfig:
// the node program's timers without -fast), each seeded with every other
// host's address (not its own: a join of itself would succeed and end
// mlnode's retries while it is still alone).
func startMLNodes(t *testing.T, hosts []*labHost) []*labNode {
	t.Helper()
	bin := mlnodeBinary(t)
	var out []*labNode
	for i, h := range hosts {
		var seeds []string
		for j, o := range hosts {
			if j != i {
				seeds = append(seeds, fmt.Sprintf("%s:%d", o.addr(), mlGossipPort))
			}
		}
		args := []string{bin, "-name", h.name, "-bind", fmt.Sprintf("%s:%d", h.addr(), mlGossipPort),
			"-seeds", strings.Join(seeds, ","), "-http", fmt.Sprintf(":%d", mlHTTPPort)}
		out = append(out, &labNode{t: t, host: h, name: h.name, port: mlHTTPPort, proc: h.start("mlnode "+h.name, nil, args...), client: newHTTPClient()})
	}
	return out
}

// startNodes starts one node per host, one right after the other.
func startNodes(t *testing.T, hosts []*labHost, c nodeConf) []*labNode {
	t.Helper()
	var out []*labNode
	for _, h := range hosts {
		out = append(out, startNode(t, h, c))
	}
	return out
}

// member is one entry of the node program's /members.
type member struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	State string `json:"state"`
}

// event is one entry of the node program's /events.
type event struct {
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`
	Member member    `json:"member"`
}

func (n *labNode) url(path string) string {
	return fmt.Sprintf("http://%s:%d%s", n.host.addr(), n.port, path)
}

// get fetches path and returns its body; a status other than 200 is an
// error.
func (n *labNode) get(path string) ([]byte, error) {
	if !n.proc.running() {
		return nil, fmt.Errorf("%s exited: %v", n.name, n.proc.err)
	}
	resp, err := n.client.Get(n.url(path))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", n.name, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// members returns the members n lists.
func (n *labNode) members() ([]member, error) {
	b, err := n.get("/members")
	if err != nil {
		return nil, err
	}
	var ms []member
	return ms, json.Unmarshal(b, &ms)
}

// memberNames returns the names of the live members n lists, sorted.
func (n *labNode) memberNames() ([]string, error) {
	ms, err := n.members()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.State == "alive" || m.State == "draining" || m.State == "suspect" {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// events returns what n logged, oldest first.
func (n *labNode) events() ([]event, error) {
	b, err := n.get("/events")
	if err != nil {
		return nil, err
	}
	var evs []event
	return evs, json.Unmarshal(b, &evs)
}

// names returns the nodes' names, sorted.
func names(nodes []*labNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.name)
	}
	slices.Sort(out)
	return out
}

// viewIs checks that every observer lists exactly want.
func viewIs(observers []*labNode, want []string) error {
	want = slices.Sorted(slices.Values(want))
	for _, o := range observers {
		got, err := o.memberNames()
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s sees %v, want %v", o.name, got, want)
		}
	}
	return nil
}

// waitWhole waits until every node lists every node and returns how long
// that took.
func waitWhole(t *testing.T, what string, timeout time.Duration, nodes []*labNode) time.Duration {
	t.Helper()
	return labWait(t, what, timeout, 100*time.Millisecond, func() error { return viewIs(nodes, names(nodes)) })
}
