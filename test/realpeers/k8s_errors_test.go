//go:build realpeers

package realpeers

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gencluster/gencluster/seeds"
)

// k8sErrorsScenario: what a user who got the setup wrong reads, from the
// real API server: a rejected token (401), a ServiceAccount without the
// Role of rbac.yaml (403), a URL that is not the API (404), and a Service
// that does not exist.
func k8sErrorsScenario(t *testing.T, cp *k8sControlPlane) {
	a := cp.apiFor(t)
	const ns = "k8s-errors"
	k8sNamespace(t, a, ns)
	good := k8sSADir(t, cp, ns, "gencluster")

	// A token the API server did not issue.
	bad := filepath.Join(t.TempDir(), "sa")
	k8sSADirCopy(t, good, bad)
	k8sWriteFile(t, filepath.Join(bad, "token"), []byte("not-a-token-this-cluster-issued"))
	_, err := k8sDiscover(seeds.Kubernetes(ns, "gencluster", k8sGossipPort, seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(bad)))
	k8sErrContains(t, "wrong token", err, "401 Unauthorized", "token", bad)

	// A ServiceAccount with no RoleBinding.
	a.create("/api/v1/namespaces/"+ns+"/serviceaccounts", k8sObj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": k8sObj{"name": "no-rbac"}})
	norbac := k8sSADir(t, cp, ns, "no-rbac")
	_, err = k8sDiscover(seeds.Kubernetes(ns, "gencluster", k8sGossipPort, seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(norbac)))
	k8sErrContains(t, "missing RBAC rule", err, "403 Forbidden", "endpointslices", "discovery.k8s.io", fmt.Sprintf("%q", ns),
		"system:serviceaccount:"+ns+":no-rbac") // the API server's own message names the user

	// The rules of rbac.yaml are scoped to its namespace: the same
	// ServiceAccount is refused in another one.
	_, err = k8sDiscover(seeds.Kubernetes("default", "gencluster", k8sGossipPort, seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(good)))
	k8sErrContains(t, "RBAC rule of another namespace", err, "403 Forbidden", `"default"`)

	// An API server that does not serve discovery.k8s.io/v1 (as before
	// Kubernetes 1.21): a second kube-apiserver on the same etcd, with
	// the group turned off. The request passes RBAC (the Role names the
	// group) and gets the API server's 404.
	// (It never becomes ready: an informer of its own needs the group.)
	old := cp.startAPIServer(t, "kube-apiserver-without-discovery", "/livez", "--runtime-config=discovery.k8s.io/v1=false")
	_, err = k8sDiscover(seeds.Kubernetes(ns, "gencluster", k8sGossipPort, seeds.K8sAPIServer(old), seeds.K8sServiceAccountDir(good)))
	k8sErrContains(t, "no discovery.k8s.io/v1", err, "404 Not Found", "discovery.k8s.io/v1")

	// A Service that does not exist: listing EndpointSlices by the label
	// kubernetes.io/service-name is allowed and finds nothing, so the
	// API answers 200 with an empty list, not 404.
	addrs, err := k8sDiscover(seeds.Kubernetes(ns, "no-such-service", k8sGossipPort, seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(good)))
	if len(addrs) != 0 {
		t.Fatalf("missing Service: found %v", addrs)
	}
	k8sErrContains(t, "missing Service", err, "no-such-service")

	// And the same configuration with the right Service works.
	if _, err := k8sDiscover(seeds.Kubernetes(ns, "gencluster", k8sGossipPort, seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(good))); err != nil {
		t.Fatalf("the right configuration: %v", err)
	}
}

// k8sSADirCopy copies a service-account directory.
func k8sSADirCopy(t *testing.T, from, to string) {
	t.Helper()
	k8sMkdir(t, to)
	for _, f := range []string{"token", "ca.crt", "namespace"} {
		k8sWriteFile(t, filepath.Join(to, f), k8sReadFile(t, filepath.Join(from, f)))
	}
}

// k8sPagingSlices is how many EndpointSlices the paging scenario writes:
// more than two of seeds.Kubernetes' pages.
const k8sPagingSlices = 1200

// k8sPagingScenario: a Service with more EndpointSlices than one page of
// seeds.Kubernetes' list holds. The endpointslice controller would need
// thousands of pods for that (it packs 100 endpoints per slice), so the
// slices are written through the API, as the controller of a Service
// without selector (or any EndpointSlice mirroring controller) does.
// seeds.Kubernetes must follow the API server's continue tokens and return
// every address once.
func k8sPagingScenario(t *testing.T, cp *k8sControlPlane) {
	a := cp.apiFor(t)
	const ns = "k8s-paging"
	k8sNamespace(t, a, ns)
	a.create("/api/v1/namespaces/"+ns+"/services", k8sObj{
		"apiVersion": "v1", "kind": "Service", "metadata": k8sObj{"name": "many"},
		"spec": k8sObj{"clusterIP": "None", "ports": []any{k8sObj{"name": "gossip", "port": k8sGossipPort}}},
	})
	start := time.Now()
	var want []string
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 16)
	for i := range k8sPagingSlices {
		ip := fmt.Sprintf("10.60.%d.%d", i/250, i%250+1)
		want = append(want, fmt.Sprintf("%s:%d", ip, k8sGossipPort))
		slice := k8sObj{
			"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
			"metadata": k8sObj{
				"name":   fmt.Sprintf("many-%04d", i),
				"labels": k8sObj{"kubernetes.io/service-name": "many", "endpointslice.kubernetes.io/managed-by": "realpeers.gencluster.test"},
			},
			"addressType": "IPv4",
			"endpoints":   []any{k8sObj{"addresses": []any{ip}, "conditions": k8sObj{"ready": true}}},
			"ports":       []any{k8sObj{"name": "gossip", "port": k8sGossipPort, "protocol": "TCP"}},
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := a.do(http.MethodPost, "/apis/discovery.k8s.io/v1/namespaces/"+ns+"/endpointslices", slice, nil); err != nil {
				failed.Store(err)
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		t.Fatal(err)
	}
	k8sFigure(t, fmt.Sprintf("k8s_paging_write_%d_slices", k8sPagingSlices), time.Since(start))

	tr := cp.pki.httpClient().Transport.(*http.Transport)
	defer tr.CloseIdleConnections()
	rec := &k8sRecorder{next: tr}
	dir := k8sSADir(t, cp, ns, "gencluster")
	d := seeds.Kubernetes(ns, "many", k8sGossipPort, seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(dir),
		seeds.K8sHTTPClient(&http.Client{Transport: rec, Timeout: 30 * time.Second}))
	start = time.Now()
	got, err := k8sDiscover(d)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	k8sSameSet(t, "paged list", got, want)
	reqs, conts := rec.counts()
	if conts == 0 || reqs < 2 {
		t.Fatalf("paged list: %d requests, %d with a continue token: the list was not paged", reqs, conts)
	}
	k8sFigure(t, "k8s_paging_requests", reqs)
	k8sFigure(t, "k8s_paging_continue_requests", conts)
	k8sFigure(t, fmt.Sprintf("k8s_paging_discover_%d_slices", k8sPagingSlices), took)

	// K8sCachedList: the first request asks for resourceVersion=0 (any
	// version: the API server's watch cache instead of a quorum read of
	// etcd); whether the cache pages or answers in one go, every address
	// comes back once.
	cached := &k8sRecorder{next: tr}
	dc := seeds.Kubernetes(ns, "many", k8sGossipPort, seeds.K8sAPIServer(cp.url), seeds.K8sServiceAccountDir(dir),
		seeds.K8sHTTPClient(&http.Client{Transport: cached, Timeout: 30 * time.Second}), seeds.K8sCachedList())
	start = time.Now()
	got, err = k8sDiscover(dc)
	took = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	k8sSameSet(t, "cached list", got, want)
	reqs, conts = cached.counts()
	if first := cached.firstQuery(); first.Get("resourceVersion") != "0" {
		t.Fatalf("cached list: first request %v, want resourceVersion=0", first)
	}
	k8sFigure(t, "k8s_cached_list_requests", reqs)
	k8sFigure(t, "k8s_cached_list_continue_requests", conts)
	k8sFigure(t, fmt.Sprintf("k8s_cached_list_discover_%d_slices", k8sPagingSlices), took)
}

// k8sRecorder counts the requests a client sends, and those that carry a
// continue token.
type k8sRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	reqs  int
	conts int
	first url.Values
}

func (r *k8sRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if r.reqs == 0 {
		r.first = req.URL.Query()
	}
	r.reqs++
	if req.URL.Query().Get("continue") != "" {
		r.conts++
	}
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *k8sRecorder) firstQuery() url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

func (r *k8sRecorder) counts() (reqs, conts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs, r.conts
}

// k8sSameSet fails the test unless got (sorted) and want hold the same
// strings, each once.
func k8sSameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w] != 1 {
			t.Fatalf("%s: %s found %d times, want once (%d found, %d wanted)", what, w, seen[w], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d addresses, want %d", what, len(got), len(want))
	}
}
