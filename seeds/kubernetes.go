package seeds

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// DefaultServiceAccountDir is where Kubernetes mounts a pod's service-account
// token, CA certificate and namespace.
const DefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// maxK8sBody bounds the size of one API response.
const maxK8sBody = 32 << 20

// kubernetes is the Discoverer returned by Kubernetes. It is safe
// for concurrent use.
type kubernetes struct {
	namespace  string
	service    string
	port       int
	portName   string
	selector   string
	notReady   bool
	apiServer  string
	saDir      string
	httpClient *http.Client

	mu     sync.Mutex
	client *http.Client // built from saDir's ca.crt on first use
}

// KubernetesOption configures a kubernetes.
type KubernetesOption func(*kubernetes)

// K8sIncludeNotReady makes Discover return endpoints whose ready condition is
// false too, as a Service's publishNotReadyAddresses does. Use it when the
// pod's readiness depends on having joined the cluster.
func K8sIncludeNotReady() KubernetesOption {
	return func(k *kubernetes) { k.notReady = true }
}

// K8sNamedPort takes the port from each EndpointSlice's ports entry called
// name (the Service port's name) instead of a fixed number; pass port 0 to
// Kubernetes with it.
func K8sNamedPort(name string) KubernetesOption {
	return func(k *kubernetes) { k.portName = name }
}

// K8sAPIServer sets the API server's base URL, such as
// "https://10.96.0.1:443" or, with kubectl proxy, "http://127.0.0.1:8001".
// The default is https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
func K8sAPIServer(baseURL string) KubernetesOption {
	return func(k *kubernetes) { k.apiServer = strings.TrimRight(baseURL, "/") }
}

// K8sServiceAccountDir sets the directory holding the files token, ca.crt
// and namespace; the default is DefaultServiceAccountDir.
func K8sServiceAccountDir(dir string) KubernetesOption {
	return func(k *kubernetes) { k.saDir = dir }
}

// K8sLabelSelector lists the EndpointSlices matching the label selector sel
// (for example "app=foo,tier=gossip") instead of those of one Service; pass
// service "" to Kubernetes with it.
func K8sLabelSelector(sel string) KubernetesOption {
	return func(k *kubernetes) { k.selector = sel }
}

// K8sHTTPClient makes requests with c instead of a client that trusts the
// service account's ca.crt. The bearer token is still read from the
// service-account directory and sent with every request.
func K8sHTTPClient(c *http.Client) KubernetesOption {
	return func(k *kubernetes) { k.httpClient = c }
}

// Kubernetes returns a Discoverer that lists the EndpointSlices of a Service
// through the Kubernetes API server and returns each ready endpoint's
// address with port. It needs no client library: it sends
//
//	GET /apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices?labelSelector=kubernetes.io/service-name={service}
//
// with the pod's service-account token, which is re-read on every call
// because Kubernetes rotates it, and trusts the service account's ca.crt. The
// service account needs get and list on endpointslices in API group
// discovery.k8s.io in the namespace; examples/k8s/rbac.yaml grants them.
//
// namespace "" means the pod's own namespace, read from the
// service-account directory. port is the gossip port; with K8sNamedPort it
// is 0 and the port comes from the EndpointSlices. With K8sLabelSelector,
// service is "". Endpoints whose ready condition is false are skipped unless
// K8sIncludeNotReady is given; a missing condition counts as ready, as the API
// documents.
//
// For example
//
//	seeds.Kubernetes("prod", "chat-gossip", 7946)
//	seeds.Kubernetes("", "chat-gossip", 0, seeds.K8sNamedPort("gossip"), seeds.K8sIncludeNotReady())
//	seeds.Kubernetes("prod", "", 7946, seeds.K8sLabelSelector("app=chat,tier=backend"))
//
// The spec forms are
//
//	k8s+namespace/service:7946          a Service and a port number
//	k8s+namespace/service:gossip        a Service and a named port
//	k8s+service:7946                    the pod's own namespace
//	k8s+namespace/app=chat,tier=x:7946  a label selector (it contains '=')
//	k8s+prod/chat:7946?notready=include K8sIncludeNotReady
//
// Errors say what is wrong: a missing token file, a rejected token (401), a
// missing RBAC rule (403, naming the verb, resource, group and namespace), an
// API server without discovery.k8s.io/v1 (404), or a response that is not an
// EndpointSliceList.
func Kubernetes(namespace, service string, port int, opts ...KubernetesOption) Discoverer {
	return newKubernetes(namespace, service, port, opts...)
}

// newKubernetes is Kubernetes with the concrete type, for the tests.
func newKubernetes(namespace, service string, port int, opts ...KubernetesOption) *kubernetes {
	k := &kubernetes{namespace: namespace, service: service, port: port, saDir: DefaultServiceAccountDir}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Validate checks the configuration; it does no I/O, so it succeeds outside
// a cluster.
func (k *kubernetes) Validate() error {
	var errs []error
	if k.namespace != "" && !isDNSLabel(k.namespace) {
		errs = append(errs, fmt.Errorf("kubernetes: invalid namespace %q", k.namespace))
	}
	switch {
	case k.service == "" && k.selector == "":
		errs = append(errs, errors.New("kubernetes: need a service name or a label selector"))
	case k.service != "" && k.selector != "":
		errs = append(errs, fmt.Errorf("kubernetes: give either service %q or label selector %q, not both", k.service, k.selector))
	case k.service != "" && !isDNSLabel(k.service):
		errs = append(errs, fmt.Errorf("kubernetes: invalid service name %q", k.service))
	case k.selector != "" && strings.ContainsAny(k.selector, "\n\r\t"):
		errs = append(errs, fmt.Errorf("kubernetes: invalid label selector %q", k.selector))
	}
	switch {
	case k.portName != "" && k.port != 0:
		errs = append(errs, fmt.Errorf("kubernetes: give either port %d or named port %q, not both", k.port, k.portName))
	case k.portName == "" && (k.port < 1 || k.port > 65535):
		errs = append(errs, fmt.Errorf("kubernetes: port %d: want a number from 1 to 65535 or K8sNamedPort", k.port))
	}
	if k.apiServer != "" {
		u, err := url.Parse(k.apiServer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("kubernetes: API server %q: want an http or https URL", k.apiServer))
		}
	}
	return errors.Join(errs...)
}

// String returns the spec form, "k8s+namespace/service:port".
func (k *kubernetes) String() string {
	var b strings.Builder
	b.WriteString("k8s+")
	if k.namespace != "" {
		b.WriteString(k.namespace + "/")
	}
	if k.selector != "" {
		b.WriteString(k.selector)
	} else {
		b.WriteString(k.service)
	}
	if k.portName != "" {
		b.WriteString(":" + k.portName)
	} else {
		b.WriteString(":" + strconv.Itoa(k.port))
	}
	if k.notReady {
		b.WriteString("?notready=include")
	}
	return b.String()
}

// Discover lists the EndpointSlices and returns the endpoints' addresses.
// EndpointSlices without the named port are skipped and reported in the
// error next to the addresses found.
func (k *kubernetes) Discover(ctx context.Context) ([]string, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	ns := k.namespace
	if ns == "" {
		b, err := os.ReadFile(filepath.Join(k.saDir, "namespace"))
		if err != nil {
			return nil, fmt.Errorf("kubernetes: no namespace given and the pod's namespace is unreadable: %w", err)
		}
		ns = strings.TrimSpace(string(b))
	}
	base, err := k.baseURL()
	if err != nil {
		return nil, err
	}
	client, err := k.getClient(base)
	if err != nil {
		return nil, err
	}
	tokenPath := filepath.Join(k.saDir, "token")
	tok, err := os.ReadFile(tokenPath)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: reading the service-account token (is automountServiceAccountToken off, or not in a pod?): %w", err)
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return nil, fmt.Errorf("kubernetes: service-account token file %s is empty", tokenPath)
	}

	sel := k.selector
	if sel == "" {
		sel = "kubernetes.io/service-name=" + k.service
	}
	var (
		out  []string
		seen = make(map[string]bool)
		errs []error
		cont string
	)
	for page := 0; ; page++ {
		q := url.Values{"labelSelector": {sel}, "limit": {"500"}}
		if cont != "" {
			q.Set("continue", cont)
		}
		u := base + "/apis/discovery.k8s.io/v1/namespaces/" + url.PathEscape(ns) + "/endpointslices?" + q.Encode()
		list, err := k.get(ctx, client, u, token, ns)
		if err != nil {
			return out, errors.Join(append(errs, err)...)
		}
		for _, s := range list.Items {
			addrs, err := k.sliceAddrs(s)
			if err != nil {
				errs = append(errs, err)
			}
			for _, a := range addrs {
				if !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
		}
		cont = list.Metadata.Continue
		if cont == "" || page > 1000 {
			break
		}
	}
	return out, errors.Join(errs...)
}

func (k *kubernetes) baseURL() (string, error) {
	if k.apiServer != "" {
		return k.apiServer, nil
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return "", errors.New("kubernetes: KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset (not running in a pod?); use K8sAPIServer")
	}
	return "https://" + net.JoinHostPort(host, port), nil
}

// getClient returns the HTTP client, building one that trusts ca.crt on first
// use. Keep-alives are off: one request per refresh interval does not need
// a pooled connection, and no idle connection outlives Discover.
func (k *kubernetes) getClient(base string) (*http.Client, error) {
	if k.httpClient != nil {
		return k.httpClient, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client != nil {
		return k.client, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	if strings.HasPrefix(base, "https:") {
		caPath := filepath.Join(k.saDir, "ca.crt")
		pem, err := os.ReadFile(caPath)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: reading the API server's CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kubernetes: no PEM certificate in %s", caPath)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	k.client = &http.Client{Transport: tr}
	return k.client, nil
}

// k8sSliceList is the part of a discovery.k8s.io/v1 EndpointSliceList that
// Discover reads.
type k8sSliceList struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []k8sSlice `json:"items"`
}

type k8sSlice struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	AddressType string `json:"addressType"`
	Endpoints   []struct {
		Addresses  []string `json:"addresses"`
		Conditions struct {
			Ready *bool `json:"ready"`
		} `json:"conditions"`
	} `json:"endpoints"`
	Ports []struct {
		Name string `json:"name"`
		Port *int   `json:"port"`
	} `json:"ports"`
}

// k8sStatus is a metav1.Status, the body of an API error.
type k8sStatus struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

func (k *kubernetes) get(ctx context.Context, client *http.Client, u, token, ns string) (*k8sSliceList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gencluster-seeds")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxK8sBody))
	if err != nil {
		return nil, fmt.Errorf("kubernetes: GET %s: reading the response: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var st k8sStatus
		msg := ""
		if json.Unmarshal(body, &st) == nil && st.Message != "" {
			msg = ": API server says: " + st.Message
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return nil, fmt.Errorf("kubernetes: GET %s: 401 Unauthorized: the service-account token in %s was rejected (expired, or from another cluster?)%s", u, k.saDir, msg)
		case http.StatusForbidden:
			return nil, fmt.Errorf("kubernetes: GET %s: 403 Forbidden: the service account lacks an RBAC rule allowing get and list on endpointslices in API group discovery.k8s.io in namespace %q (see examples/k8s/rbac.yaml)%s", u, ns, msg)
		case http.StatusNotFound:
			return nil, fmt.Errorf("kubernetes: GET %s: 404 Not Found: the API server does not serve discovery.k8s.io/v1 EndpointSlices (Kubernetes before 1.21, or not an API server?)%s", u, msg)
		}
		return nil, fmt.Errorf("kubernetes: GET %s: %s%s", u, resp.Status, msg)
	}
	var list k8sSliceList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("kubernetes: GET %s: decoding the EndpointSliceList: %w", u, err)
	}
	if list.Kind != "" && list.Kind != "EndpointSliceList" {
		return nil, fmt.Errorf("kubernetes: GET %s: got a %q, want an EndpointSliceList", u, list.Kind)
	}
	return &list, nil
}

// sliceAddrs returns the host:port of every wanted endpoint of s.
func (k *kubernetes) sliceAddrs(s k8sSlice) ([]string, error) {
	port := k.port
	if k.portName != "" {
		port = 0
		for _, p := range s.Ports {
			if p.Name == k.portName && p.Port != nil {
				port = *p.Port
			}
		}
		if port == 0 {
			return nil, fmt.Errorf("kubernetes: EndpointSlice %s has no port named %q", s.Metadata.Name, k.portName)
		}
	}
	ps := strconv.Itoa(port)
	var out []string
	for _, e := range s.Endpoints {
		if !k.notReady && e.Conditions.Ready != nil && !*e.Conditions.Ready {
			continue
		}
		for _, a := range e.Addresses {
			out = append(out, net.JoinHostPort(a, ps))
		}
	}
	return out, nil
}

// isDNSLabel reports whether s is an RFC 1123 label, the form of Kubernetes
// namespace and Service names.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseKubernetes reads "[namespace/]service-or-selector:port-or-name[?notready=include]".
func parseKubernetes(text string) (Discoverer, error) {
	rest, query, _ := strings.Cut(text, "?")
	var opts []KubernetesOption
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("kubernetes %q: bad options: %w", text, err)
		}
		for key, vals := range q {
			switch {
			case key == "notready" && len(vals) == 1 && vals[0] == "include":
				opts = append(opts, K8sIncludeNotReady())
			default:
				return nil, fmt.Errorf("kubernetes %q: unknown option %s=%s (known: notready=include)", text, key, strings.Join(vals, ","))
			}
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return nil, fmt.Errorf("kubernetes %q: want namespace/service:port", text)
	}
	target, portText := rest[:i], rest[i+1:]
	ns := ""
	if a, b, ok := strings.Cut(target, "/"); ok && !strings.Contains(a, "=") {
		ns, target = a, b
		if ns == "" {
			return nil, fmt.Errorf("kubernetes %q: empty namespace before '/'", text)
		}
	}
	service, selector := target, ""
	if strings.Contains(target, "=") {
		service, selector = "", target
		opts = append(opts, K8sLabelSelector(selector))
	}
	port := 0
	if portText == "" {
		return nil, fmt.Errorf("kubernetes %q: empty port", text)
	}
	if portText[0] >= '0' && portText[0] <= '9' {
		p, err := ParsePort(portText)
		if err != nil {
			return nil, fmt.Errorf("kubernetes %q: %w", text, err)
		}
		port = p
	} else {
		opts = append(opts, K8sNamedPort(portText))
	}
	return Kubernetes(ns, service, port, opts...), nil
}
