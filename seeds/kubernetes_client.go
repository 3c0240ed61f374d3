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
)

// This file holds the Kubernetes backend's API client: the list requests,
// paging, authentication and the errors of the API server.

const (
	// maxK8sBody bounds the size of one API response.
	maxK8sBody = 32 << 20
	// k8sPageSize is the limit of one list request, client-go's pager's
	// default.
	k8sPageSize = 500
	// k8sMaxPages stops a list whose continue tokens never end (a broken
	// server or proxy): 1000 pages of 500 EndpointSlices is far beyond any
	// Service.
	k8sMaxPages = 1000
)

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
		q := url.Values{"labelSelector": {sel}, "limit": {strconv.Itoa(k8sPageSize)}}
		switch {
		case cont != "":
			q.Set("continue", cont) // the token pins the first page's snapshot
		case k.cachedList:
			q.Set("resourceVersion", "0") // any version: the watch cache
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
		if cont == "" {
			break
		}
		if page+1 >= k8sMaxPages {
			errs = append(errs, fmt.Errorf("kubernetes: stopped after %d pages of %d EndpointSlices", k8sMaxPages, k8sPageSize))
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
