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

	"go.uber.org/goleak"

	"github.com/gencluster/gencluster/seeds"
)

// k8sFollowTimeout bounds how long the real controllers and seeds.Kubernetes
// take to reflect a change (scale, readiness, deletion).
const k8sFollowTimeout = 60 * time.Second

// k8sGossipPort is the port in the example's Service and seeds spec.
const k8sGossipPort = 7946

// TestK8s starts one real control plane and runs every Kubernetes and
// CoreDNS scenario against it.
func TestK8s(t *testing.T) {
	// Registered first, so checked last: after every process, container
	// and connection is gone, no goroutine of the test is left.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cp := k8sStartControlPlane(t)
	t.Run("Discovery", func(t *testing.T) { k8sDiscoveryScenario(t, cp) })
	t.Run("Errors", func(t *testing.T) { k8sErrorsScenario(t, cp) })
	t.Run("Paging", func(t *testing.T) { k8sPagingScenario(t, cp) })
	t.Run("CoreDNSCluster", func(t *testing.T) { corednsClusterScenario(t, cp) })
	t.Run("GoDiscover", func(t *testing.T) { gdScenario(t, cp) })
	cp.checkRunning()
}

// apiFor returns an admin client whose fatal errors belong to t.
func (cp *k8sControlPlane) apiFor(t *testing.T) *k8sAPI {
	a := *cp.api
	a.t = t
	return &a
}

// k8sNamespace creates a namespace with the example's objects as its
// users would apply them: examples/k8s/rbac.yaml (ServiceAccount, Role,
// RoleBinding) and service.yaml (the headless Service, which publishes
// not-ready addresses).
func k8sNamespace(t *testing.T, a *k8sAPI, ns string) {
	t.Helper()
	a.create("/api/v1/namespaces", k8sObj{"apiVersion": "v1", "kind": "Namespace", "metadata": k8sObj{"name": ns}})
	t.Cleanup(func() {
		if t.Failed() {
			a.dump(ns)
		}
	})
	a.applyYAML(k8sReadExample(t, "rbac.yaml"), ns, nil)
	a.applyYAML(k8sReadExample(t, "service.yaml"), ns, nil)
}

// k8sSADir writes what the kubelet mounts in a pod of a ServiceAccount:
// a TokenRequest token and the cluster's CA certificate.
func k8sSADir(t *testing.T, cp *k8sControlPlane, ns, sa string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "serviceaccount")
	k8sMkdir(t, dir)
	k8sWriteFile(t, filepath.Join(dir, "token"), []byte(cp.apiFor(t).serviceAccountToken(ns, sa)))
	k8sWriteFile(t, filepath.Join(dir, "ca.crt"), cp.pki.caPEM)
	k8sWriteFile(t, filepath.Join(dir, "namespace"), []byte(ns))
	return dir
}

// discover runs one Discover and returns its addresses sorted.
func k8sDiscover(d seeds.Discoverer) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := d.Discover(ctx)
	slices.Sort(addrs)
	return addrs, err
}

// k8sWantPods returns host:port of the pods matching selector that are
// not being deleted and have an IP, only the ready ones unless notReady.
func k8sWantPods(a *k8sAPI, ns, selector string, notReady bool) ([]string, error) {
	pods, err := a.pods(ns, selector)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pods {
		if p.Metadata.DeletionTimestamp != nil || p.Status.PodIP == "" || !(notReady || p.ready()) {
			continue
		}
		out = append(out, net.JoinHostPort(p.Status.PodIP, fmt.Sprint(k8sGossipPort)))
	}
	slices.Sort(out)
	return out, nil
}

// k8sWaitDiscover waits until d returns exactly want (n addresses) with no
// error and returns how long that took.
func k8sWaitDiscover(t *testing.T, what string, d seeds.Discoverer, n int, want func() ([]string, error)) time.Duration {
	t.Helper()
	took := k8sWaitFor(t, what, k8sFollowTimeout, func() error {
		w, err := want()
		if err != nil {
			return err
		}
		if len(w) != n {
			return fmt.Errorf("the API lists %d wanted pods (%v), want %d", len(w), w, n)
		}
		got, err := k8sDiscover(d)
		if err != nil {
			return err
		}
		if !slices.Equal(got, w) {
			return fmt.Errorf("%s found %v, want %v", d, got, w)
		}
		return nil
	})
	return took
}

// k8sDiscoveryScenario: the example's StatefulSet, on a kwok node, with its
// headless Service; the real endpointslice controller writes the
// EndpointSlices and seeds.Kubernetes (the example's k8s-api-patch.yaml
// configuration, with the ServiceAccount of rbac.yaml) follows scale up and
// down, readiness changes and a terminating pod.
func k8sDiscoveryScenario(t *testing.T, cp *k8sControlPlane) {
	a := cp.apiFor(t)
	const ns = "k8s-discovery"
	k8sNamespace(t, a, ns)
	// A second Service over the same pods that, unlike the example's,
	// does not publish not-ready addresses: its EndpointSlices carry the
	// pods' readiness.
	a.create("/api/v1/namespaces/"+ns+"/services", k8sObj{
		"apiVersion": "v1", "kind": "Service",
		"metadata": k8sObj{"name": "gencluster-ready"},
		"spec": k8sObj{
			"clusterIP": "None",
			"selector":  k8sObj{"app.kubernetes.io/name": "gencluster"},
			"ports":     []any{k8sObj{"name": "gossip", "port": k8sGossipPort, "protocol": "TCP"}},
		},
	})
	a.create("/api/v1/nodes", k8sObj{
		"apiVersion": "v1", "kind": "Node",
		"metadata": k8sObj{"name": "kwok-discovery", "labels": k8sObj{"type": "kwok"}},
		"spec":     k8sObj{"podCIDR": "10.0.7.0/24", "podCIDRs": []any{"10.0.7.0/24"}},
	})
	// The example's StatefulSet with k8s-api-patch.yaml's service
	// account, placed on the kwok node (there is no scheduler).
	a.applyYAML(k8sReadExample(t, "statefulset.yaml"), ns, func(o k8sObj) {
		spec := o["spec"].(k8sObj)["template"].(k8sObj)["spec"].(k8sObj)
		spec["nodeName"] = "kwok-discovery"
		spec["serviceAccountName"] = "gencluster"
	})
	dir := k8sSADir(t, cp, ns, "gencluster")
	opts := []seeds.KubernetesOption{seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(dir)}
	// As k8s-api-patch.yaml configures it: k8s+chat/gencluster:7946?notready=include.
	example := seeds.Kubernetes(ns, "gencluster", k8sGossipPort, append(opts, seeds.K8sIncludeNotReady())...)
	ready := seeds.Kubernetes(ns, "gencluster-ready", k8sGossipPort, opts...)
	readyInclNotReady := seeds.Kubernetes(ns, "gencluster-ready", k8sGossipPort, append(opts, seeds.K8sIncludeNotReady())...)
	const sel = "app.kubernetes.io/name=gencluster"
	wantReady := func() ([]string, error) { return k8sWantPods(a, ns, sel, false) }
	wantAll := func() ([]string, error) { return k8sWantPods(a, ns, sel, true) }

	start := time.Now()
	k8sWaitDiscover(t, "3 replicas listed (example Service)", example, 3, wantAll)
	k8sWaitDiscover(t, "3 replicas listed (ready Service)", ready, 3, wantReady)
	k8sFigure(t, "k8s_statefulset_3_listed", time.Since(start))

	sts := "/apis/apps/v1/namespaces/" + ns + "/statefulsets/gencluster"
	for _, n := range []int{6, 2, 4} {
		start := time.Now()
		a.mergePatch(sts, k8sObj{"spec": k8sObj{"replicas": n}})
		k8sWaitFor(t, fmt.Sprintf("%d pods ready in the API", n), k8sFollowTimeout, func() error {
			w, err := k8sWantPods(a, ns, sel, false)
			if err == nil && len(w) != n {
				err = fmt.Errorf("%d ready pods, want %d", len(w), n)
			}
			return err
		})
		// From the PATCH until the API lists n ready pods, not being
		// deleted (the StatefulSet controller and kwok): the part of the
		// follow time before the EndpointSlices can say it.
		k8sFigure(t, fmt.Sprintf("k8s_scale_to_%d_pods_ready", n), time.Since(start))
		k8sWaitDiscover(t, fmt.Sprintf("scaled to %d (example Service)", n), example, n, wantAll)
		took := time.Since(start)
		k8sWaitDiscover(t, fmt.Sprintf("scaled to %d (ready Service)", n), ready, n, wantReady)
		// From the PATCH of replicas until seeds.Kubernetes lists exactly
		// the pods.
		k8sFigure(t, fmt.Sprintf("k8s_scale_to_%d_follow", n), took)
	}

	// Readiness: gencluster-0 turns not ready (as a failing readiness
	// probe makes the kubelet report).
	pod := "/api/v1/namespaces/" + ns + "/pods/gencluster-0"
	setReady := func(status string) {
		t.Helper()
		patch := k8sObj{"status": k8sObj{"conditions": []any{k8sObj{"type": "Ready", "status": status}}}}
		if err := a.do(http.MethodPatch, pod+"/status", patch, nil, "Content-Type", "application/strategic-merge-patch+json"); err != nil {
			t.Fatal(err)
		}
	}
	// Figures from the status PATCH until seeds.Kubernetes follows.
	start = time.Now()
	setReady("False")
	k8sWaitDiscover(t, "gencluster-0 not ready: dropped", ready, 3, wantReady)
	k8sFigure(t, "k8s_not_ready_dropped", time.Since(start))
	k8sCheckConditions(t, a, ns, "gencluster-ready", "gencluster-0", false, false, false)
	k8sWaitDiscover(t, "gencluster-0 not ready: listed with IncludeNotReady", readyInclNotReady, 4, wantAll)
	k8sWaitDiscover(t, "gencluster-0 not ready: listed by the example (publishNotReadyAddresses)", example, 4, wantAll)
	start = time.Now()
	setReady("True")
	k8sWaitDiscover(t, "gencluster-0 ready again: listed", ready, 4, wantReady)
	k8sFigure(t, "k8s_ready_again_listed", time.Since(start))

	k8sTerminating(t, a, ns, []seeds.Discoverer{example, ready, readyInclNotReady}, wantReady)
}

// k8sTerminating deletes gencluster-1 while kwok is told to keep it
// terminating (as a kubelet does during the grace period): the
// EndpointSlices keep it with serving=true, terminating=true, and no
// configuration of seeds.Kubernetes may list it, as a peer to join, since
// it is on its way out (libcluster#202). The example's Service publishes
// not-ready addresses, so its EndpointSlice even says ready=true.
func k8sTerminating(t *testing.T, a *k8sAPI, ns string, ds []seeds.Discoverer, want func() ([]string, error)) {
	t.Helper()
	pod := "/api/v1/namespaces/" + ns + "/pods/gencluster-1"
	a.mergePatch(pod, k8sObj{"metadata": k8sObj{"annotations": k8sObj{k8sHoldAnnotation: "1"}}})
	released := false
	release := func() {
		if !released {
			released = true
			a.mergePatch(pod, k8sObj{"metadata": k8sObj{"annotations": k8sObj{k8sHoldAnnotation: nil}}})
		}
	}
	defer release()
	a.del(pod, k8sObj{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 300})
	k8sWaitFor(t, "gencluster-1 terminating in the EndpointSlices", k8sFollowTimeout, func() error {
		return k8sConditionsAre(a, ns, "gencluster-ready", "gencluster-1", false, true, true)
	})
	k8sWaitFor(t, "gencluster-1 terminating in the example's EndpointSlices", k8sFollowTimeout, func() error {
		return k8sConditionsAre(a, ns, "gencluster", "gencluster-1", true, true, true)
	})
	for _, d := range ds {
		k8sWaitDiscover(t, fmt.Sprintf("terminating gencluster-1 not listed by %s", d), d, 3, want)
	}
	release()
	k8sWaitDiscover(t, "gencluster-1 recreated and listed", ds[1], 4, want)
}

// k8sCheckConditions fails the test unless pod's endpoint in service's
// EndpointSlices has the given conditions.
func k8sCheckConditions(t *testing.T, a *k8sAPI, ns, service, pod string, ready, serving, terminating bool) {
	t.Helper()
	if err := k8sConditionsAre(a, ns, service, pod, ready, serving, terminating); err != nil {
		t.Fatal(err)
	}
}

func k8sConditionsAre(a *k8sAPI, ns, service, pod string, ready, serving, terminating bool) error {
	eps, err := a.endpoints(ns, service)
	if err != nil {
		return err
	}
	val := func(b *bool) string {
		if b == nil {
			return "unset"
		}
		return fmt.Sprint(*b)
	}
	for _, e := range eps {
		if e.TargetRef == nil || e.TargetRef.Name != pod {
			continue
		}
		got := fmt.Sprintf("ready=%s serving=%s terminating=%s", val(e.Conditions.Ready), val(e.Conditions.Serving), val(e.Conditions.Terminating))
		want := fmt.Sprintf("ready=%t serving=%t terminating=%t", ready, serving, terminating)
		if got != want {
			return fmt.Errorf("%s's endpoint in %s: %s, want %s", pod, service, got, want)
		}
		return nil
	}
	return fmt.Errorf("no endpoint of %s in the EndpointSlices of %s", pod, service)
}

// k8sErrContains fails the test unless err is an error containing every
// part.
func k8sErrContains(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want one containing %q", what, parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: error %q does not contain %q", what, err, p)
		}
	}
	t.Logf("%s: %v", what, err)
}
