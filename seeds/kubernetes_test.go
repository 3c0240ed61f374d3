package seeds

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

// fakeAPI is an httptest TLS server standing in for the Kubernetes API
// server. It checks every request and answers with a fixture file.
type fakeAPI struct {
	t       *testing.T
	srv     *httptest.Server
	saDir   string
	mu      sync.Mutex
	status  int               // response status
	body    func() string     // fixture file name, chosen per request
	tokens  []string          // bearer tokens seen
	queries []url.Values      // query parameters of every request
	wantNS  string            // namespace expected in the path
	wantLS  string            // labelSelector expected
	pages   map[string]string // continue token -> fixture
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, status: http.StatusOK, wantNS: "prod", wantLS: "kubernetes.io/service-name=example"}
	f.body = func() string { return "slices.json" }
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)

	f.saDir = t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	f.writeSA("ca.crt", string(ca))
	f.writeSA("token", "token-1\n")
	f.writeSA("namespace", "prod")
	return f
}

func (f *fakeAPI) writeSA(name, text string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.saDir, name), []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wantPath := "/apis/discovery.k8s.io/v1/namespaces/" + f.wantNS + "/endpointslices"
	if r.Method != http.MethodGet || r.URL.Path != wantPath {
		f.t.Errorf("request %s %s, want GET %s", r.Method, r.URL.Path, wantPath)
	}
	if got := r.URL.Query().Get("labelSelector"); got != f.wantLS {
		f.t.Errorf("labelSelector = %q, want %q", got, f.wantLS)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		f.t.Errorf("Accept = %q", got)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") {
		f.t.Errorf("Authorization = %q, want Bearer", auth)
	}
	f.tokens = append(f.tokens, strings.TrimPrefix(auth, "Bearer "))
	f.queries = append(f.queries, r.URL.Query())
	name := f.body()
	if c := r.URL.Query().Get("continue"); c != "" {
		name = f.pages[c]
	}
	b, err := os.ReadFile(filepath.Join("testdata", "k8s", name))
	if err != nil {
		b = []byte(name) // not a fixture: the literal body
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	w.Write(b)
}

func (f *fakeAPI) discoverer(service string, port int, opts ...KubernetesOption) *kubernetes {
	opts = append([]KubernetesOption{K8sAPIServer(f.srv.URL), K8sServiceAccountDir(f.saDir)}, opts...)
	return newKubernetes("prod", service, port, opts...)
}

func TestKubernetesReadyEndpoints(t *testing.T) {
	backendtest.CheckLeaks(t)
	f := newFakeAPI(t)
	k := f.discoverer("example", 7946)
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := k.Discover(context.Background())
	want := []string{"10.1.2.3:7946", "10.1.2.5:7946", "[fd00:10:1::3]:7946"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Discover = %q, %v; want %q", got, err, want)
	}

	// The token is re-read on every call: Kubernetes rotates it.
	f.writeSA("token", "token-2")
	if _, err := k.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.tokens, []string{"token-1", "token-2"}) {
		t.Errorf("tokens sent = %q", f.tokens)
	}
	if name(k) != "k8s+prod/example:7946" {
		t.Errorf("Name = %q", name(k))
	}
}

func TestKubernetesOptions(t *testing.T) {
	backendtest.CheckLeaks(t)
	f := newFakeAPI(t)

	got, err := f.discoverer("example", 7946, K8sIncludeNotReady()).Discover(context.Background())
	want := []string{"10.1.2.3:7946", "10.1.2.4:7946", "10.1.2.5:7946", "[fd00:10:1::3]:7946"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("K8sIncludeNotReady: Discover = %q, %v; want %q", got, err, want)
	}

	got, err = f.discoverer("example", 0, K8sNamedPort("http")).Discover(context.Background())
	want = []string{"10.1.2.3:80", "10.1.2.5:80", "[fd00:10:1::3]:80"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("K8sNamedPort: Discover = %q, %v; want %q", got, err, want)
	}

	f.wantLS = "app=chat,tier=gossip"
	got, err = f.discoverer("", 7946, K8sLabelSelector("app=chat,tier=gossip")).Discover(context.Background())
	if err != nil || len(got) != 3 {
		t.Errorf("K8sLabelSelector: Discover = %q, %v", got, err)
	}
	f.wantLS = "kubernetes.io/service-name=example"

	// Own namespace from the service-account dir; API server from the
	// environment; a custom HTTP client.
	u, _ := url.Parse(f.srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	k := newKubernetes("", "example", 7946, K8sServiceAccountDir(f.saDir), K8sHTTPClient(f.srv.Client()))
	if got, err := k.Discover(context.Background()); err != nil || len(got) != 3 {
		t.Errorf("in-cluster defaults: Discover = %q, %v", got, err)
	}
	k = newKubernetes("", "example", 7946, K8sServiceAccountDir(f.saDir))
	if got, err := k.Discover(context.Background()); err != nil || len(got) != 3 {
		t.Errorf("in-cluster defaults with ca.crt: Discover = %q, %v", got, err)
	}
}

func TestKubernetesPagesAndMissingNamedPort(t *testing.T) {
	backendtest.CheckLeaks(t)
	f := newFakeAPI(t)
	f.body = func() string { return "page1.json" }
	f.pages = map[string]string{"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzNDU2Nywic3RhcnQiOiJleGFtcGxlLWFiY1x1MDAwMCJ9": "page2.json"}
	got, err := f.discoverer("example", 7946).Discover(context.Background())
	if err != nil || !reflect.DeepEqual(got, []string{"10.1.2.3:7946", "10.1.3.7:7946"}) {
		t.Errorf("two pages: Discover = %q, %v", got, err)
	}
	// page2's slice has no "gossip" port: its endpoints are skipped and
	// named in the error; page1's are still returned.
	got, err = f.discoverer("example", 0, K8sNamedPort("gossip")).Discover(context.Background())
	if !reflect.DeepEqual(got, []string{"10.1.2.3:7946"}) || err == nil || !strings.Contains(err.Error(), `EndpointSlice example-def has no port named "gossip"`) {
		t.Errorf("missing named port: Discover = %q, %v", got, err)
	}
}

func TestKubernetesHTTPErrors(t *testing.T) {
	backendtest.CheckLeaks(t)
	f := newFakeAPI(t)
	for _, tc := range []struct {
		status int
		body   string
		want   []string
	}{
		{401, "unauthorized.json", []string{"401 Unauthorized", "token", f.saDir}},
		{403, "forbidden.json", []string{"403 Forbidden", "get and list on endpointslices in API group discovery.k8s.io in namespace \"prod\"", "rbac.yaml", "cannot list resource"}},
		{404, "notfound.json", []string{"404 Not Found", "discovery.k8s.io/v1"}},
		{500, `{"kind":"Status","message":"etcd is sad"}`, []string{"500 Internal Server Error", "etcd is sad"}},
		{200, `{"kind":"EndpointSliceList","items":[{"endpoints":"nope"}]}`, []string{"decoding the EndpointSliceList"}},
		{200, `<html>not json</html>`, []string{"decoding the EndpointSliceList"}},
		{200, `{"kind":"PodList","items":[]}`, []string{`got a "PodList"`}},
	} {
		f.mu.Lock()
		f.status, f.body = tc.status, func() string { return tc.body }
		f.mu.Unlock()
		got, err := f.discoverer("example", 7946).Discover(context.Background())
		if err == nil || got != nil {
			t.Errorf("%d %s: Discover = %q, %v; want an error", tc.status, tc.body, got, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%d %s: error %q does not say %q", tc.status, tc.body, err, w)
			}
		}
	}
}

func TestKubernetesLocalErrors(t *testing.T) {
	backendtest.CheckLeaks(t)
	f := newFakeAPI(t)
	ctx := context.Background()

	// Missing token file.
	os.Remove(filepath.Join(f.saDir, "token"))
	if _, err := f.discoverer("example", 7946).Discover(ctx); err == nil || !strings.Contains(err.Error(), "service-account token") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing token: %v", err)
	}
	f.writeSA("token", "\n")
	if _, err := f.discoverer("example", 7946).Discover(ctx); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty token: %v", err)
	}
	f.writeSA("token", "token-1")

	// CA problems.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "token"), []byte("t"), 0o600)
	k := newKubernetes("prod", "example", 7946, K8sAPIServer(f.srv.URL), K8sServiceAccountDir(bad))
	if _, err := k.Discover(ctx); err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Errorf("missing ca.crt: %v", err)
	}
	os.WriteFile(filepath.Join(bad, "ca.crt"), []byte("not pem"), 0o600)
	if _, err := k.Discover(ctx); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad ca.crt: %v", err)
	}
	// A CA that does not sign the server's certificate.
	os.WriteFile(filepath.Join(bad, "ca.crt"), selfSignedPEM(t), 0o600)
	k = newKubernetes("prod", "example", 7946, K8sAPIServer(f.srv.URL), K8sServiceAccountDir(bad))
	if _, err := k.Discover(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("wrong CA: %v", err)
	}

	// Not in a pod.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := newKubernetes("prod", "example", 7946, K8sServiceAccountDir(f.saDir)).Discover(ctx); err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Errorf("no env: %v", err)
	}
	// No namespace file.
	if _, err := newKubernetes("", "example", 7946, K8sServiceAccountDir(bad)).Discover(ctx); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("no namespace file: %v", err)
	}
	// Cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.discoverer("example", 7946).Discover(cctx); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("cancelled: %v", err)
	}
}

func TestKubernetesValidate(t *testing.T) {
	backendtest.CheckLeaks(t)
	for _, tc := range []struct {
		k    *kubernetes
		want string
	}{
		{newKubernetes("Prod", "x", 1), `invalid namespace "Prod"`},
		{newKubernetes("p", "", 1), "need a service name or a label selector"},
		{newKubernetes("p", "x", 1, K8sLabelSelector("a=b")), "not both"},
		{newKubernetes("p", "x_y", 1), `invalid service name "x_y"`},
		{newKubernetes("p", "", 1, K8sLabelSelector("a=b\n")), "invalid label selector"},
		{newKubernetes("p", "x", 0), "port 0"},
		{newKubernetes("p", "x", 70000), "port 70000"},
		{newKubernetes("p", "x", 7946, K8sNamedPort("gossip")), `either port 7946 or named port "gossip"`},
		{newKubernetes("p", "x", 1, K8sAPIServer("ftp://h")), `API server "ftp://h"`},
	} {
		err := tc.k.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", tc.k, err, tc.want)
		}
		if _, err := tc.k.Discover(context.Background()); err == nil {
			t.Errorf("%s: Discover: no error", tc.k)
		}
	}
}

func TestKubernetesSpec(t *testing.T) {
	backendtest.CheckLeaks(t)
	checkSpecNames(t, map[string]string{
		"k8s+prod/example:7946":                              "k8s+prod/example:7946",
		"k8s+prod/example:gossip":                            "k8s+prod/example:gossip",
		"k8s+example:7946":                                   "k8s+example:7946",
		"k8s+prod/app=chat,tier=x:7946":                      "k8s+prod/app=chat,tier=x:7946",
		"k8s+prod/app.kubernetes.io/name=chat:7946":          "k8s+prod/app.kubernetes.io/name=chat:7946",
		"k8s+prod/example:7946?notready=include":             "k8s+prod/example:7946?notready=include",
		"k8s+prod/example:7946?list=cached":                  "k8s+prod/example:7946?list=cached",
		"k8s+prod/example:7946?list=cached&notready=include": "k8s+prod/example:7946?notready=include&list=cached",
	})
	checkSpecErrors(t, map[string]string{
		"k8s+prod/example":                  "want namespace/service:port",
		"k8s+prod/example:":                 "empty port",
		"k8s+prod/example:0":                `port "0"`,
		"k8s+/example:7946":                 "empty namespace",
		"k8s+prod/Example:7946":             "invalid service name",
		"k8s+prod/example:7946?x=1":         "unknown option x=1",
		"k8s+prod/example:7946?notready=no": "unknown option notready=no",
		"k8s+prod/example:7946?list=etcd":   "unknown option list=etcd",
		"k8s+prod/example:7946?%zz":         "bad options",
	})
}

// selfSignedPEM returns a new self-signed CA certificate that signs nothing
// the test servers use.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "other-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
