//go:build realpeers

package realpeers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// gdNamespace holds the go-discover scenario's pods.
const gdNamespace = "k8s-godiscover"

// gdBuild builds contrib/godiscover's node program (a module of its own,
// which this module does not import: it is built with the go command, as
// a user would).
func gdBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "godiscover-node")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/godiscover-node")
	cmd.Dir = filepath.Join("..", "..", "contrib", "godiscover")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building contrib/godiscover/cmd/godiscover-node: %v\n%s", err, out)
	}
	return bin
}

// gdScenario: node processes of contrib/godiscover's program, seeded only
// by go-discover's k8s provider (discover+provider=k8s&...) with a
// ServiceAccount's token that may list pods, find each other through the
// real API server. Each pod is a hostNetwork pod on a kwok node of its own
// whose InternalIP is a loopback address, so that kwok reports the pod's
// IP as that address, where the test runs the pod's node process; a pod
// added later brings a node that joins through the same discovery.
func gdScenario(t *testing.T, cp *k8sControlPlane) {
	a := cp.apiFor(t)
	bin := gdBuild(t)
	a.create("/api/v1/namespaces", k8sObj{"apiVersion": "v1", "kind": "Namespace", "metadata": k8sObj{"name": gdNamespace}})
	t.Cleanup(func() {
		if t.Failed() {
			a.dump(gdNamespace)
		}
	})
	a.create("/api/v1/namespaces/"+gdNamespace+"/serviceaccounts", k8sObj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": k8sObj{"name": "gd"}})
	a.create("/apis/rbac.authorization.k8s.io/v1/namespaces/"+gdNamespace+"/roles", k8sObj{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": k8sObj{"name": "gd"},
		"rules": []any{k8sObj{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"get", "list"}}},
	})
	a.create("/apis/rbac.authorization.k8s.io/v1/namespaces/"+gdNamespace+"/rolebindings", k8sObj{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": k8sObj{"name": "gd"},
		"roleRef":  k8sObj{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gd"},
		"subjects": []any{k8sObj{"kind": "ServiceAccount", "name": "gd", "namespace": gdNamespace}},
	})
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	k8sKubeconfig(t, kubeconfig, cp.url, cp.pki.caFile, a.serviceAccountToken(gdNamespace, "gd"))
	spec := fmt.Sprintf("discover+provider=k8s&kubeconfig=%s&namespace=%s&label_selector=app%%3Dgd&port=%d", kubeconfig, gdNamespace, k8sGossipPort)

	prefix := fmt.Sprintf("127.%d.%d.", 100+rand.IntN(100), rand.IntN(250))
	client := newHTTPClient()
	var names []string
	add := func(i int) {
		name, ip := fmt.Sprintf("gd-%d", i), fmt.Sprintf("%s%d", prefix, 10+i)
		gdPod(t, a, name, ip)
		k8sStart(t, dir, name, bin, []string{
			"GENCLUSTER_NAME=" + name, fmt.Sprintf("GENCLUSTER_BIND=%s:%d", ip, k8sGossipPort), "GENCLUSTER_REFRESH_INTERVAL=1s",
		}, "-http", ip+":8080", "-seeds", spec)
		names = append(names, name)
	}
	for i := range 3 {
		add(i)
	}
	took := gdWaitView(t, client, prefix, names)
	k8sFigure(t, "k8s_godiscover_3_nodes_formed", took)
	add(3)
	took = gdWaitView(t, client, prefix, names)
	k8sFigure(t, "k8s_godiscover_4th_node_joined", took)
}

// gdPod creates kwok node name-node with InternalIP ip and a hostNetwork
// pod on it labelled app=gd, and waits until the API says it runs, ready,
// at ip.
func gdPod(t *testing.T, a *k8sAPI, name, ip string) {
	t.Helper()
	node := name + "-node"
	status := k8sObj{"addresses": []any{k8sObj{"type": "InternalIP", "address": ip}, k8sObj{"type": "Hostname", "address": node}}}
	a.create("/api/v1/nodes", k8sObj{"apiVersion": "v1", "kind": "Node", "metadata": k8sObj{"name": node, "labels": k8sObj{"type": "kwok"}}, "status": status})
	if err := a.do(http.MethodPatch, "/api/v1/nodes/"+node+"/status", k8sObj{"status": status}, nil, "Content-Type", "application/merge-patch+json"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.del("/api/v1/nodes/"+node, nil) })
	a.create("/api/v1/namespaces/"+gdNamespace+"/pods", k8sObj{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": k8sObj{"name": name, "labels": k8sObj{"app": "gd"}},
		"spec": k8sObj{"nodeName": node, "hostNetwork": true, "serviceAccountName": "gd",
			"containers": []any{k8sObj{"name": "node", "image": "gencluster-godiscover-node"}}},
	})
	k8sWaitFor(t, name+" running and ready at "+ip, k8sFollowTimeout, func() error {
		pods, err := a.pods(gdNamespace, "app=gd")
		if err != nil {
			return err
		}
		for _, p := range pods {
			if p.Metadata.Name == name {
				if p.Status.PodIP != ip || !p.ready() {
					return fmt.Errorf("%s: podIP %q, ready %t", name, p.Status.PodIP, p.ready())
				}
				return nil
			}
		}
		return fmt.Errorf("%s not listed", name)
	})
}

// gdWaitView waits until the node at each name's address lists exactly
// names as its live members.
func gdWaitView(t *testing.T, client *http.Client, prefix string, names []string) time.Duration {
	t.Helper()
	want := slices.Sorted(slices.Values(names))
	return k8sWaitFor(t, fmt.Sprintf("%d godiscover nodes see each other", len(names)), k8sFollowTimeout, func() error {
		for i, n := range names {
			resp, err := client.Get(fmt.Sprintf("http://%s%d:8080/members", prefix, 10+i))
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			var ms []member
			if err := json.Unmarshal(body, &ms); err != nil {
				return fmt.Errorf("%s /members: %w: %s", n, err, body)
			}
			var got []string
			for _, m := range ms {
				if m.State == "alive" || m.State == "draining" {
					got = append(got, m.Name)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s sees %v, want %v", n, got, want)
			}
		}
		return nil
	})
}
