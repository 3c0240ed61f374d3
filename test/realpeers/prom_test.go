//go:build realpeers

package realpeers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promNodes is the size of the cluster Prometheus scrapes.
const promNodes = 8

// staticSeeds is a static+ spec naming every host's gossip address.
func staticSeeds(hosts []*labHost) string {
	var as []string
	for _, h := range hosts {
		as = append(as, fmt.Sprintf("%s:%d", h.addr(), gossipPort))
	}
	return "static+" + strings.Join(as, ",")
}

// promServer is Debian's Prometheus, started by the test on 127.0.0.1.
type promServer struct {
	t      *testing.T
	base   string
	client *http.Client
}

// startPrometheus writes a configuration that scrapes every node's
// /metrics every second and starts Prometheus with a fresh TSDB.
func startPrometheus(t *testing.T, nodes []*labNode) *promServer {
	t.Helper()
	requireTools(t, "prometheus")
	dir := t.TempDir()
	var targets []string
	for _, n := range nodes {
		targets = append(targets, strconv.Quote(fmt.Sprintf("%s:%d", n.host.addr(), httpPort)))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: gencluster
    static_configs:
      - targets: [%s]
`, strings.Join(targets, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	mustWrite(t, cfgPath, cfg)
	if out, err := exec.Command("promtool", "check", "config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v: %s", err, out)
	}
	port := freePort(t, []string{"127.0.0.1"})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := startProc(t, "prometheus", nil, "prometheus", "--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	s := &promServer{t: t, base: "http://" + addr, client: newHTTPClient()}
	labWait(t, "prometheus is ready", 30*time.Second, 100*time.Millisecond, func() error {
		if !p.running() {
			t.Fatalf("prometheus exited: %v\n%s", p.err, tail(p.out.String(), 3000))
		}
		resp, err := s.client.Get(s.base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready: %s", resp.Status)
		}
		return nil
	})
	return s
}

// apiGet calls Prometheus's HTTP API and decodes the "data" field.
func (s *promServer) apiGet(path string, q url.Values, data any) error {
	resp, err := s.client.Get(s.base + path + "?" + q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s %v: %s: %s", path, q, env.Status, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// query runs an instant PromQL query and returns each series' value keyed
// by the value of label.
func (s *promServer) query(promql, label string) (map[string]float64, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := s.apiGet("/api/v1/query", url.Values{"query": {promql}}, &data); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, r := range data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v: %v", promql, r.Value, err)
		}
		out[r.Metric[label]] = v
	}
	return out, nil
}

// targetsUp returns how many active targets are up, and the last scrape
// error of one that is not.
func (s *promServer) targetsUp() (int, error) {
	var data struct {
		ActiveTargets []struct {
			ScrapeURL string `json:"scrapeUrl"`
			Health    string `json:"health"`
			LastError string `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := s.apiGet("/api/v1/targets", url.Values{"state": {"active"}}, &data); err != nil {
		return 0, err
	}
	up := 0
	var bad error
	for _, tg := range data.ActiveTargets {
		if tg.Health == "up" {
			up++
		} else {
			bad = fmt.Errorf("%s: %s %s", tg.ScrapeURL, tg.Health, tg.LastError)
		}
	}
	return up, bad
}

// TestPrometheus: Debian's Prometheus scrapes the node program's /metrics
// on an 8-node cluster (each node in its own network namespace, with its
// own IP); promtool check metrics finds nothing to say about any node's
// output; and the PromQL query of gencluster_members over the HTTP API
// gives, for every node, the count its /members lists.
func TestPrometheus(t *testing.T) {
	checkLeaks(t)
	requireTools(t, "promtool")
	lab := newNetLab(t, true, false)
	hosts := lab.addHosts(promNodes)
	nodes := startNodes(t, hosts, nodeConf{seeds: staticSeeds(hosts), fast: true})
	waitWhole(t, "the cluster forms", clusterTimeout, nodes)

	problems := 0
	for _, n := range nodes {
		body, err := n.get("/metrics")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			problems++
			t.Errorf("promtool check metrics on %s's /metrics: %v\n%s", n.name, err, out)
		}
	}
	figure(t, "prom_promtool_nodes_checked", len(nodes))
	figure(t, "prom_promtool_problems", problems)

	s := startPrometheus(t, nodes)
	took := labWait(t, "prometheus scrapes every node", 30*time.Second, 200*time.Millisecond, func() error {
		up, err := s.targetsUp()
		if up == len(nodes) {
			return nil
		}
		return fmt.Errorf("%d of %d targets up: %v", up, len(nodes), err)
	})
	figure(t, "prom_targets_up", len(nodes))
	figure(t, "prom_time_to_all_targets_up", took)

	// The query agrees with /members once a scrape after the formation
	// is in: the cluster is whole and stays so.
	const promql = `sum by (node) (gencluster_members{job="gencluster"})`
	var last map[string]float64
	labWait(t, "PromQL member counts match /members", 30*time.Second, 200*time.Millisecond, func() error {
		got, err := s.query(promql, "node")
		if err != nil {
			return err
		}
		last = got
		for _, n := range nodes {
			ms, err := n.memberNames()
			if err != nil {
				return err
			}
			if v, ok := got[n.name]; !ok || v != float64(len(ms)) {
				return fmt.Errorf("%s: PromQL says %v (present %v), /members lists %d", n.name, v, ok, len(ms))
			}
		}
		if len(got) != len(nodes) {
			return fmt.Errorf("%d series, want %d: %v", len(got), len(nodes), got)
		}
		return nil
	})
	for _, n := range nodes {
		figure(t, "prom_members_"+n.name, last[n.name])
	}
	ups, err := s.query(`count(up{job="gencluster"} == 1)`, "")
	if err != nil || ups[""] != float64(len(nodes)) {
		t.Errorf("count(up == 1) = %v (err %v), want %d", ups, err, len(nodes))
	}
}
