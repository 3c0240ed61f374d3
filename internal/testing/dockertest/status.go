package dockertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Member is one entry of the node program's /members.
type Member struct {
	Name  string            `json:"name"`
	Addr  string            `json:"addr"`
	State string            `json:"state"`
	Meta  map[string]string `json:"meta"`
}

// URL is name's status endpoint path: its container IP, reached from the
// host over the bridge (Cut drops only the traffic between containers).
func (n *Network) URL(name, path string) string {
	return fmt.Sprintf("http://%s:%d%s", n.ips[name], n.httpPort, path)
}

// GetJSON decodes the JSON answer of name's status endpoint path into v.
func (n *Network) GetJSON(name, path string, v any) error {
	resp, err := n.client.Get(n.URL(name, path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", name, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Members returns the names of the members name lists, sorted; a member
// in a state other than alive or draining (a live member about to leave:
// a node that got SIGTERM drains first) is an error.
func (n *Network) Members(name string) ([]string, error) {
	var ms []Member
	if err := n.GetJSON(name, "/members", &ms); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.State != "alive" && m.State != "draining" {
			return nil, fmt.Errorf("%s lists %s in state %q", name, m.Name, m.State)
		}
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out, nil
}

// States returns the state name lists each member in, by member name.
func (n *Network) States(name string) (map[string]string, error) {
	var ms []Member
	if err := n.GetJSON(name, "/members", &ms); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ms))
	for _, m := range ms {
		out[m.Name] = m.State
	}
	return out, nil
}

// ViewIs checks that every observer lists exactly the members want.
func (n *Network) ViewIs(observers, want []string) error {
	want = slices.Sorted(slices.Values(want))
	for _, o := range observers {
		got, err := n.Members(o)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s sees %v, want %v", o, got, want)
		}
	}
	return nil
}

// SplitViews is what each node sees when a and b are cut apart: its own
// side.
func SplitViews(a, b []string) map[string][]string {
	views := map[string][]string{}
	for _, n := range a {
		views[n] = a
	}
	for _, n := range b {
		views[n] = b
	}
	return views
}

// HoldViews checks, every 200ms for d and once more after it, that each
// observer keeps listing exactly the members views gives it, and fails
// the test at the first difference.
func (n *Network) HoldViews(what string, d time.Duration, views map[string][]string) {
	n.t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		for o, want := range views {
			if err := n.ViewIs([]string{o}, want); err != nil {
				n.t.Fatalf("%s: %v", what, err)
			}
		}
		if time.Now().After(end) {
			break
		}
	}
	n.t.Logf("%s: held for %v", what, d)
}

// Metric returns the sum of the samples of a counter or gauge in name's
// /metrics whose line contains match.
func (n *Network) Metric(name, metric, match string) (float64, error) {
	resp, err := n.client.Get(n.URL(name, "/metrics"))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	v, err := SumSamples(resp.Body, metric, match)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// SumSamples returns the sum of the samples of metric (a counter or a
// gauge with labels) in the Prometheus text exposition r whose line
// contains match.
func SumSamples(r io.Reader, metric, match string) (float64, error) {
	var sum float64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, match) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %v", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
