package seeds

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// DefaultServiceAccountDir is where Kubernetes mounts a pod's service-account
// token, CA certificate and namespace.
const DefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// kubernetes is the Discoverer returned by Kubernetes. It is safe
// for concurrent use.
type kubernetes struct {
	nilOpts    []int // positions of nil options, refused by Validate
	namespace  string
	service    string
	port       int
	portName   string
	selector   string
	notReady   bool
	cachedList bool
	apiServer  string
	saDir      string
	httpClient *http.Client

	mu     sync.Mutex
	client *http.Client // built from saDir's ca.crt on first use
}

// KubernetesOption configures a kubernetes.
type KubernetesOption func(*kubernetes)

// K8sIncludeNotReady makes Discover return endpoints that are not ready
// too, as a Service's publishNotReadyAddresses does; terminating endpoints
// are still left out (see Kubernetes for the table). Use it when the pod's
// readiness depends on having joined the cluster.
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

// K8sCachedList lists with resourceVersion=0, so that the API server answers
// from its watch cache, in memory, instead of reading through to etcd with a
// quorum read. In a large cluster, where every node of every deployment
// lists every refresh interval, that takes the load off etcd.
//
// The price is staleness: the cache may lag etcd, by milliseconds normally,
// and by as long as an API server stays cut off from etcd in a
// high-availability control plane, so an answer can miss a pod that just
// became ready or name one that just went away. For seeding joins that is
// harmless (the next refresh sees the change, and the gossip layer, not
// discovery, decides who is alive), which is why this is an option and not
// the default: the default answer is the current one.
//
// Paging: only the first request of a list carries resourceVersion=0. An
// API server whose watch cache cannot page (every one before the
// snapshottable cache of KEP-4988) ignores limit for it and returns every
// EndpointSlice in one answer with no continue token; one that can page
// returns a continue token as usual. A continue token
// already pins the snapshot of the first page, and the API server treats a
// resourceVersion next to it as an error (or, for "0", ignores it), so the
// pages after the first send only the token, as client-go's pager does.
func K8sCachedList() KubernetesOption {
	return func(k *kubernetes) { k.cachedList = true }
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
// service is "".
//
// Which endpoints are returned follows the EndpointSlice conditions, each
// read as the API defines a missing value (ready and serving: true,
// terminating: false):
//
//	ready  serving  terminating | returned  with K8sIncludeNotReady
//	true   true     false       | yes       yes    a ready pod
//	false  false    false       | no        yes    starting, or failing its probe
//	true   false    false       | no        yes    publishNotReadyAddresses, pod not ready
//	any    any      true        | no        no     terminating (being deleted)
//
// So by default an endpoint is returned when it is ready and serving and
// not terminating. serving is the pod's own readiness, whatever the
// Service's publishNotReadyAddresses did to ready, so the default stays
// "ready pods" on any Service. A terminating endpoint is never returned: a
// pod that is shutting down must not be joined as a new peer (libcluster's
// issue 202 is what happens otherwise: the leaving node is pulled back into
// the cluster until it exits); a member that is already joined is left to
// the gossip layer, which sees it leave.
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
//	k8s+prod/chat:7946?list=cached      K8sCachedList
//	k8s+prod/chat:7946?notready=include&list=cached  both
//
// Errors say what is wrong: a missing token file, a rejected token (401), a
// missing RBAC rule (403, naming the verb, resource, group and namespace), an
// API server without discovery.k8s.io/v1 (404), a Service without any
// EndpointSlice (it does not exist in the namespace: the API answers an
// empty list, not 404, since the list is by label), or a response that is
// not an EndpointSliceList.
func Kubernetes(namespace, service string, port int, opts ...KubernetesOption) Discoverer {
	return newKubernetes(namespace, service, port, opts...)
}

// newKubernetes is Kubernetes with the concrete type, for the tests.
func newKubernetes(namespace, service string, port int, opts ...KubernetesOption) *kubernetes {
	k := &kubernetes{namespace: namespace, service: service, port: port, saDir: DefaultServiceAccountDir}
	for i, o := range opts {
		if o == nil {
			k.nilOpts = append(k.nilOpts, i)
			continue
		}
		o(k)
	}
	return k
}

// Validate checks the configuration; it does no I/O, so it succeeds outside
// a cluster.
func (k *kubernetes) Validate() error {
	errs := backendkit.NilOptionErrors("kubernetes", k.nilOpts)
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

// String returns the spec form, "k8s+namespace/service:port" with its
// options.
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
	var q []string
	if k.notReady {
		q = append(q, "notready=include")
	}
	if k.cachedList {
		q = append(q, "list=cached")
	}
	if len(q) > 0 {
		b.WriteString("?" + strings.Join(q, "&"))
	}
	return b.String()
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

// parseKubernetes reads
// "[namespace/]service-or-selector:port-or-name[?notready=include&list=cached]".
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
			case key == "list" && len(vals) == 1 && vals[0] == "cached":
				opts = append(opts, K8sCachedList())
			default:
				return nil, fmt.Errorf("kubernetes %q: unknown option %s=%s (known: notready=include, list=cached)", text, key, strings.Join(vals, ","))
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
		p, err := backendkit.ParsePort(portText)
		if err != nil {
			return nil, fmt.Errorf("kubernetes %q: %w", text, err)
		}
		port = p
	} else {
		opts = append(opts, K8sNamedPort(portText))
	}
	return Kubernetes(ns, service, port, opts...), nil
}
