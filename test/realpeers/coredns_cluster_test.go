//go:build realpeers

package realpeers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

const (
	// cdnsNamespace holds the scenario's StatefulSet and Service.
	cdnsNamespace = "k8s-coredns"
	// cdnsConverge bounds formation and the following of a scale change.
	cdnsConverge = 60 * time.Second
	// cdnsPartitionHold keeps the partition after both sides have dropped
	// each other, past the -fast GossipToTheDeadTime (2s), so that only
	// the refresh loop (re-resolving the DNS name) can heal it.
	cdnsPartitionHold = 4 * time.Second
)

// cdnsStartCoreDNS runs CoreDNS on the network's gateway, port 53, serving
// cluster.local from the API server with its kubernetes plugin and the
// RBAC rules of CoreDNS's own deployment manifest, and waits until its
// ready plugin says the plugin has synced.
func cdnsStartCoreDNS(t *testing.T, cp *k8sControlPlane, listen string) {
	t.Helper()
	a := cp.apiFor(t)
	a.create("/api/v1/namespaces/kube-system/serviceaccounts", k8sObj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": k8sObj{"name": "coredns"}})
	a.create("/apis/rbac.authorization.k8s.io/v1/clusterroles", k8sObj{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": k8sObj{"name": "system:coredns"},
		"rules": []any{
			k8sObj{"apiGroups": []any{""}, "resources": []any{"endpoints", "services", "pods", "namespaces"}, "verbs": []any{"list", "watch"}},
			k8sObj{"apiGroups": []any{"discovery.k8s.io"}, "resources": []any{"endpointslices"}, "verbs": []any{"list", "watch"}},
		},
	})
	a.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", k8sObj{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": k8sObj{"name": "system:coredns"},
		"roleRef":  k8sObj{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
		"subjects": []any{k8sObj{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}},
	})
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "coredns.kubeconfig")
	k8sKubeconfig(t, kubeconfig, cp.url, cp.pki.caFile, a.serviceAccountToken("kube-system", "coredns"))
	readyAddr := fmt.Sprintf("127.0.0.1:%d", k8sFreePort(t))
	corefile := filepath.Join(dir, "Corefile")
	k8sWriteFile(t, corefile, []byte(fmt.Sprintf(`cluster.local:53 {
    bind %s
    errors
    ready %s
    kubernetes cluster.local {
        kubeconfig %s realpeers
    }
}
`, listen, readyAddr, kubeconfig)))
	p := k8sStart(t, dir, "coredns", k8sBinary(t, "coredns"), nil, "-conf", corefile)
	k8sWaitFor(t, "CoreDNS ready (kubernetes plugin synced)", 30*time.Second, func() error {
		if err := p.exited(); err != nil {
			t.Fatal(err)
		}
		return k8sGetOK("http://" + readyAddr + "/ready")
	})
}

// cdnsLookup resolves name with the DNS server at server:53.
func cdnsLookup(server, name string) ([]string, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", net.JoinHostPort(server, "53"))
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, name)
	slices.Sort(addrs)
	return addrs, err
}

// cdnsCluster is the scenario's state: the real StatefulSet's pods, each
// bound by the test (it plays the scheduler) to a kwok node of its own
// whose InternalIP is the address of the pod's container, so that kwok
// reports the hostNetwork pod's IP as the container's and the real
// endpointslice controller publishes the containers' addresses.
type cdnsCluster struct {
	t     *testing.T
	a     *k8sAPI
	net   *dockertest.Network
	image string
	env   []string // the node program's environment, from the example
	arg   []string
}

// ip is the container address of StatefulSet pod gencluster-i.
func (c *cdnsCluster) ip(pod string) string {
	var i int
	if _, err := fmt.Sscanf(pod, "gencluster-%d", &i); err != nil {
		c.t.Fatalf("unexpected pod name %q", pod)
	}
	return fmt.Sprintf("%s%d", c.net.Prefix, 10+i)
}

// sync makes the world follow the API: a new pod gets its kwok node, is
// bound to it and its container starts; a pod being deleted, or gone,
// has its container stopped with SIGTERM (a graceful leave), as the
// kubelet does.
func (c *cdnsCluster) sync() error {
	pods, err := c.a.pods(cdnsNamespace, "app.kubernetes.io/name=gencluster")
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, p := range pods {
		name := p.Metadata.Name
		if p.Metadata.DeletionTimestamp != nil {
			continue
		}
		live[name] = true
		if p.Spec.NodeName != "" {
			continue
		}
		ip, node := c.ip(name), "kwok-"+name
		if err := c.ensureNode(node, ip); err != nil {
			return err
		}
		binding := k8sObj{"apiVersion": "v1", "kind": "Binding", "metadata": k8sObj{"name": name},
			"target": k8sObj{"apiVersion": "v1", "kind": "Node", "name": node}}
		if err := c.a.do(http.MethodPost, "/api/v1/namespaces/"+cdnsNamespace+"/pods/"+name+"/binding", binding, nil); err != nil {
			return err
		}
		if !c.net.Running(name) {
			c.start(name, ip, append(slices.Clone(c.env),
				"GENCLUSTER_NAME="+name, fmt.Sprintf("GENCLUSTER_ADVERTISE=%s:%d", ip, k8sGossipPort)), c.arg...)
		}
	}
	for _, name := range c.net.Names() {
		if !live[name] {
			c.net.Stop(name)
		}
	}
	return nil
}

// ensureNode creates kwok node name with InternalIP ip, once.
func (c *cdnsCluster) ensureNode(name, ip string) error {
	code, _, err := c.a.raw(http.MethodGet, "/api/v1/nodes/"+name, nil)
	if err != nil || code == http.StatusOK {
		return err
	}
	node := k8sObj{"apiVersion": "v1", "kind": "Node",
		"metadata": k8sObj{"name": name, "labels": k8sObj{"type": "kwok"}},
		"status":   k8sObj{"addresses": []any{k8sObj{"type": "InternalIP", "address": ip}, k8sObj{"type": "Hostname", "address": name}}}}
	if err := c.a.do(http.MethodPost, "/api/v1/nodes", node, nil); err != nil {
		return err
	}
	// A create may drop the status; set the address through /status.
	return c.a.do(http.MethodPatch, "/api/v1/nodes/"+name+"/status", k8sObj{"status": node["status"]}, nil,
		"Content-Type", "application/merge-patch+json")
}

// waitView syncs and waits until every running node sees exactly the
// running nodes, n of them; it returns how long that took.
func (c *cdnsCluster) waitView(what string, n int) time.Duration {
	c.t.Helper()
	return k8sWaitFor(c.t, what, cdnsConverge, func() error {
		if err := c.sync(); err != nil {
			return err
		}
		names := c.net.Names()
		if len(names) != n {
			return fmt.Errorf("%d containers running, want %d", len(names), n)
		}
		return c.net.ViewIs(names, names)
	})
}

// waitDNS syncs and waits until CoreDNS answers dnsName with exactly the
// running containers' addresses; it returns how long that took.
func (c *cdnsCluster) waitDNS(what, dnsName string) time.Duration {
	c.t.Helper()
	return k8sWaitFor(c.t, what, cdnsConverge, func() error {
		if err := c.sync(); err != nil {
			return err
		}
		ips := c.runningIPs()
		got, err := cdnsLookup(c.net.Gateway(), dnsName)
		if err != nil {
			return err
		}
		if !slices.Equal(got, ips) {
			// Which of the controllers and CoreDNS is behind.
			eps, err := c.a.endpoints(cdnsNamespace, "gencluster")
			var inAPI []string
			for _, e := range eps {
				inAPI = append(inAPI, e.Addresses...)
			}
			slices.Sort(inAPI)
			return fmt.Errorf("CoreDNS answers %s with %v, want %v (the EndpointSlices list %v, err %v)", dnsName, got, ips, inAPI, err)
		}
		return nil
	})
}

// corednsClusterScenario (issue 13 item 2): node programs in containers
// whose only seed is the example's dns+gencluster.<ns>.svc.cluster.local:7946,
// answered by CoreDNS from the real EndpointSlices of the example's
// StatefulSet. The cluster forms, follows a scale up and down of the
// StatefulSet, and heals a partition.
func corednsClusterScenario(t *testing.T, cp *k8sControlPlane) {
	cdnsRequireTools(t)
	image := cdnsBuildImage(t)
	nw := cdnsNewNetwork(t)
	cdnsStartCoreDNS(t, cp, nw.Gateway())
	a := cp.apiFor(t)
	k8sNamespace(t, a, cdnsNamespace)
	c := &cdnsCluster{t: t, a: a, net: nw, image: image}
	start := time.Now()
	a.applyYAML(k8sReadExample(t, "statefulset.yaml"), cdnsNamespace, func(o k8sObj) {
		spec := o["spec"].(k8sObj)["template"].(k8sObj)["spec"].(k8sObj)
		spec["hostNetwork"] = true
		spec["dnsPolicy"] = "ClusterFirstWithHostNet"
		ctr := spec["containers"].([]any)[0].(k8sObj)
		// The container's configuration, as the example gives it (the
		// variables that need the downward API are set per container).
		for _, e := range ctr["env"].([]any) {
			e := e.(k8sObj)
			if v, ok := e["value"].(string); ok && !strings.Contains(v, "$(") {
				c.env = append(c.env, fmt.Sprintf("%s=%s", e["name"], v))
			}
		}
		for _, v := range ctr["args"].([]any) {
			c.arg = append(c.arg, v.(string))
		}
	})
	// Short memberlist timers, as the system tests use, so that the
	// partition is detected in seconds.
	c.arg = append(c.arg, "-fast")
	dnsName := fmt.Sprintf("gencluster.%s.svc.cluster.local", cdnsNamespace)
	seedsEnv := "GENCLUSTER_SEEDS=dns+" + dnsName + fmt.Sprintf(":%d", k8sGossipPort)
	if !slices.Contains(c.env, seedsEnv) {
		t.Fatalf("the example's environment %v does not have %s", c.env, seedsEnv)
	}
	t.Logf("node environment (from examples/k8s/statefulset.yaml): %v, args %v", c.env, c.arg)

	c.waitView("3 replicas form a cluster", 3)
	// From the StatefulSet's creation until every node sees all 3.
	k8sFigure(t, "coredns_formation_3_nodes", time.Since(start))
	c.waitDNS("CoreDNS answers the 3", dnsName)
	// From the StatefulSet's creation until CoreDNS answers with all 3
	// addresses (the nodes need only one to join the others).
	k8sFigure(t, "coredns_formation_3_dns_complete", time.Since(start))

	sts := "/apis/apps/v1/namespaces/" + cdnsNamespace + "/statefulsets/gencluster"
	for _, n := range []int{6, 4} {
		patched := time.Now()
		a.mergePatch(sts, k8sObj{"spec": k8sObj{"replicas": n}})
		c.waitView(fmt.Sprintf("scaled to %d", n), n)
		// From the PATCH of replicas until every node sees exactly n.
		k8sFigure(t, fmt.Sprintf("coredns_scale_to_%d_follow", n), time.Since(patched))
		c.waitDNS(fmt.Sprintf("CoreDNS answers the %d", n), dnsName)
		// From the PATCH until CoreDNS answers exactly the n addresses.
		k8sFigure(t, fmt.Sprintf("coredns_scale_to_%d_dns_exact", n), time.Since(patched))
	}

	// Partition 2 | 2: every packet between the halves dropped.
	names := nw.Names()
	left, right := names[:len(names)/2], names[len(names)/2:]
	nw.Cut(left, right, true)
	cut := true
	defer func() {
		if cut {
			nw.Cut(left, right, false)
		}
	}()
	detect := k8sWaitFor(t, "each side of the partition drops the other", cdnsConverge, func() error {
		if err := nw.ViewIs(left, left); err != nil {
			return err
		}
		return nw.ViewIs(right, right)
	})
	nw.HoldViews("the partition holds", cdnsPartitionHold, dockertest.SplitViews(left, right))
	healStart := time.Now()
	nw.Cut(left, right, false)
	cut = false
	c.waitView("the partition heals", len(names))
	t.Logf("partition %d|%d, nodes' refresh interval %s", len(left), len(right), cdnsRefresh(c.env))
	// Until each side has dropped the other.
	k8sFigure(t, fmt.Sprintf("coredns_partition_%d_%d_detect", len(left), len(right)), detect)
	// From the removal of the rules until every node sees every node.
	k8sFigure(t, fmt.Sprintf("coredns_partition_%d_%d_heal", len(left), len(right)), time.Since(healStart))
}

// cdnsRefresh returns the GENCLUSTER_REFRESH_INTERVAL in env.
func cdnsRefresh(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GENCLUSTER_REFRESH_INTERVAL="); ok {
			return v
		}
	}
	return "default"
}
