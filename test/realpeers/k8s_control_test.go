//go:build realpeers

package realpeers

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// k8sControlPlane is one real control plane on loopback: etcd,
// kube-apiserver with RBAC, kube-controller-manager (the controllers that
// turn a StatefulSet into pods and pods into EndpointSlices) and kwok (fake
// nodes whose pods it marks running and ready, in place of kubelets).
type k8sControlPlane struct {
	t          *testing.T
	dir        string
	pki        *k8sPKI
	url        string // https://127.0.0.1:port
	adminToken string // static token of a system:masters user
	kubeconfig string // the admin's, for the controller-manager and kwok
	api        *k8sAPI
	procs      []*k8sProc
	etcdURL    string
	tokens     string // the static token file
}

// kwokStages replaces kwok's default stages (given any, kwok uses only
// these): a node is ready at once, keeping the addresses it was created
// with; pods become ready at once (as kwok's "fast" stages do), but a pod
// being deleted is removed only when it has no annotation
// k8sHoldAnnotation, so that a test can keep a pod terminating
// (deletionTimestamp set, still serving) as long as it needs, as a slow
// kubelet or a long preStop would.
const kwokStages = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - type: Ready
        status: "True"
        reason: KubeletReady
        message: kwok plays this node's kubelet
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
      allocatable:
        cpu: 1k
        memory: 1Ti
        pods: 1M
      capacity:
        cpu: 1k
        memory: 1Ti
        pods: 1M
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.metadata.annotations["` + k8sHoldAnnotation + `"]'
      operator: 'DoesNotExist'
  next:
    delete: true
`

// k8sHoldAnnotation on a pod keeps kwok from removing it once deleted.
const k8sHoldAnnotation = "gencluster.test/hold-termination"

// k8sStartControlPlane starts etcd, kube-apiserver, kube-controller-manager
// and kwok, waits until the API server is ready, and stops them all when the
// test ends.
func k8sStartControlPlane(t *testing.T) *k8sControlPlane {
	t.Helper()
	etcd := k8sBinary(t, "etcd")
	k8sBinary(t, "kube-apiserver") // fail early, before starting anything
	kcm := k8sBinary(t, "kube-controller-manager")
	kwok := k8sBinary(t, "kwok")
	started := time.Now()

	dir := t.TempDir()
	if os.Getenv("REALPEERS_KEEP") != "" {
		// Keep the logs (and etcd's data) for a post-mortem.
		var err error
		if dir, err = os.MkdirTemp("", "realpeers-k8s-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("REALPEERS_KEEP: the control plane's files stay in %s", dir)
	}
	cp := &k8sControlPlane{t: t, dir: dir, pki: k8sWritePKI(t, dir), adminToken: k8sRandomHex(16)}

	etcdPort, peerPort := k8sFreePort(t), k8sFreePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	cp.procs = append(cp.procs, k8sStart(t, dir, "etcd", etcd, nil,
		"--name=realpeers", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=realpeers="+peerURL, "--log-level=warn"))
	k8sWaitFor(t, "etcd answers /health", 30*time.Second, func() error {
		if err := cp.procs[0].exited(); err != nil {
			t.Fatal(err)
		}
		return k8sGetOK(etcdURL + "/health")
	})

	// The admin authenticates with a static token (a system:masters user,
	// as kubeadm's admin.conf is); everything gencluster does uses a
	// ServiceAccount token from the TokenRequest API instead.
	cp.tokens = filepath.Join(dir, "tokens.csv")
	k8sWriteFile(t, cp.tokens, []byte(cp.adminToken+`,realpeers-admin,realpeers-admin,"system:masters"`+"\n"))
	cp.etcdURL = etcdURL
	cp.url = cp.startAPIServer(t, "kube-apiserver", "/readyz")
	cp.api = &k8sAPI{t: t, base: cp.url, token: cp.adminToken, client: cp.pki.httpClient()}
	t.Cleanup(cp.api.client.CloseIdleConnections) // no connection goroutine outlives the test

	cp.kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	k8sKubeconfig(t, cp.kubeconfig, cp.url, cp.pki.caFile, cp.adminToken)
	cp.procs = append(cp.procs, k8sStart(t, dir, "kube-controller-manager", kcm, nil,
		"--kubeconfig="+cp.kubeconfig,
		"--authentication-kubeconfig="+cp.kubeconfig,
		"--authorization-kubeconfig="+cp.kubeconfig,
		// Only what turns workloads into EndpointSlices (and gives
		// namespaces their default ServiceAccount, which pod admission
		// requires).
		"--controllers=deployment,replicaset,statefulset,endpointslice,serviceaccount",
		"--leader-elect=false",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", k8sFreePort(t)),
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--v=1"))
	stages := filepath.Join(dir, "kwok-stages.yaml")
	k8sWriteFile(t, stages, []byte(kwokStages))
	cp.procs = append(cp.procs, k8sStart(t, dir, "kwok", kwok, []string{"HOME=" + dir},
		"--kubeconfig="+cp.kubeconfig, "--config="+stages,
		"--manage-all-nodes=true", "--cidr=10.0.0.0/16"))

	// Ready when a namespace gets its default ServiceAccount from the
	// controller-manager.
	cp.api.create("/api/v1/namespaces", k8sObj{"apiVersion": "v1", "kind": "Namespace", "metadata": k8sObj{"name": "realpeers-probe"}})
	k8sWaitFor(t, "kube-controller-manager runs (default ServiceAccount)", time.Minute, func() error {
		for _, p := range cp.procs {
			if err := p.exited(); err != nil {
				t.Fatal(err)
			}
		}
		code, body, err := cp.api.raw(http.MethodGet, "/api/v1/namespaces/realpeers-probe/serviceaccounts/default", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, strings.TrimSpace(string(body)))
		}
		return nil
	})
	k8sFigure(t, "k8s_control_plane_start", time.Since(started))
	return cp
}

// startAPIServer starts a kube-apiserver on the control plane's etcd, with
// extra flags, waits until its health check ready (/readyz, or /livez for
// one that cannot be ready) answers 200 and returns its URL. It stops when
// t ends.
func (cp *k8sControlPlane) startAPIServer(t *testing.T, name, ready string, extra ...string) string {
	t.Helper()
	port := k8sFreePort(t)
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--etcd-servers=" + cp.etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		// On loopback the default reconciler refuses the 127.0.0.1
		// advertise address of the "kubernetes" Service's endpoints.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + cp.pki.certFile, "--tls-private-key-file=" + cp.pki.keyFile,
		"--client-ca-file=" + cp.pki.caFile,
		"--token-auth-file=" + cp.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + cp.pki.saKeyFile,
		"--service-account-signing-key-file=" + cp.pki.saKeyFile,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	}
	p := k8sStart(t, cp.dir, name, k8sBinary(t, "kube-apiserver"), nil, append(args, extra...)...)
	if t == cp.t {
		cp.procs = append(cp.procs, p) // checked by checkRunning; a subtest's own is gone when it ends
	}
	api := &k8sAPI{t: t, base: url, token: cp.adminToken, client: cp.pki.httpClient()}
	defer api.client.CloseIdleConnections()
	k8sWaitFor(t, name+" "+ready, 2*time.Minute, func() error {
		if err := p.exited(); err != nil {
			t.Fatal(err)
		}
		code, body, err := api.raw(http.MethodGet, ready, nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("%s: %d %s", ready, code, body)
		}
		return nil
	})
	return url
}

// checkRunning fails the test when a control-plane process has exited.
func (cp *k8sControlPlane) checkRunning() {
	cp.t.Helper()
	for _, p := range cp.procs {
		if err := p.exited(); err != nil {
			cp.t.Fatal(err)
		}
	}
}

// k8sWaitFor polls cond every 100ms until it returns nil or timeout passes,
// then fails the test with cond's last error. It returns how long it took.
func k8sWaitFor(t *testing.T, what string, timeout time.Duration, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	lastLog := start
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		now := time.Now()
		if now.After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		// What a slow wait is waiting for, in the log of a passing run too.
		if now.Sub(lastLog) >= 5*time.Second {
			t.Logf("%s: still waiting after %v: %v", what, now.Sub(start).Round(time.Second), err)
			lastLog = now
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// k8sGetOK GETs url without keeping the connection, and fails unless the
// answer is 200.
func k8sGetOK(url string) error {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// k8sExampleDir is the repository's Kubernetes example, whose manifests the
// tests apply.
const k8sExampleDir = "../../examples/k8s"

func k8sReadExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k8sExampleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
