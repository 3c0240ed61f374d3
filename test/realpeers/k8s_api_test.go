//go:build realpeers

package realpeers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// k8sObj is a Kubernetes object as JSON.
type k8sObj = map[string]any

// k8sAPI talks to the API server with plain net/http and encoding/json (no
// client-go: the test checks what gencluster's own client meets).
type k8sAPI struct {
	t      *testing.T
	base   string
	token  string
	client *http.Client
}

// raw sends a request and returns the status code and body.
func (a *k8sAPI) raw(method, path string, body []byte, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// do sends obj (nil for none) and decodes the answer into out (nil to
// drop it); a status other than 2xx is an error with the server's message.
func (a *k8sAPI) do(method, path string, obj any, out any, header ...string) error {
	var body []byte
	if obj != nil {
		var err error
		if body, err = json.Marshal(obj); err != nil {
			return err
		}
	}
	code, b, err := a.raw(method, path, body, header...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("%s %s: %d: %s", method, path, code, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding: %w", method, path, err)
		}
	}
	return nil
}

// create POSTs obj to the collection at path; an error is fatal.
func (a *k8sAPI) create(path string, obj any) {
	a.t.Helper()
	if err := a.do(http.MethodPost, path, obj, nil); err != nil {
		a.t.Fatal(err)
	}
}

// mergePatch applies a JSON merge patch; an error is fatal.
func (a *k8sAPI) mergePatch(path string, patch any) {
	a.t.Helper()
	if err := a.do(http.MethodPatch, path, patch, nil, "Content-Type", "application/merge-patch+json"); err != nil {
		a.t.Fatal(err)
	}
}

// del deletes the object at path; an error is fatal.
func (a *k8sAPI) del(path string, opts any) {
	a.t.Helper()
	if err := a.do(http.MethodDelete, path, opts, nil); err != nil {
		a.t.Fatal(err)
	}
}

// k8sCollection returns the API path of the collection of objects of the
// given apiVersion and kind in namespace (ignored for Namespaces and other
// cluster-scoped kinds).
func k8sCollection(apiVersion, kind, namespace string) (string, error) {
	prefix := "/apis/" + apiVersion
	if apiVersion == "v1" {
		prefix = "/api/v1"
	}
	plural := map[string]string{
		"Namespace": "namespaces", "Node": "nodes", "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
	}
	if p, ok := plural[kind]; ok {
		return prefix + "/" + p, nil
	}
	namespaced := map[string]string{
		"Service": "services", "ServiceAccount": "serviceaccounts", "Pod": "pods",
		"Role": "roles", "RoleBinding": "rolebindings",
		"StatefulSet": "statefulsets", "Deployment": "deployments",
		"EndpointSlice": "endpointslices",
	}
	p, ok := namespaced[kind]
	if !ok {
		return "", fmt.Errorf("unknown kind %s %s", apiVersion, kind)
	}
	return prefix + "/namespaces/" + namespace + "/" + p, nil
}

// applyYAML creates every object of a multi-document YAML manifest (an
// example's file), after rewriting it with edit (nil for none), in
// namespace: the manifests' own namespace, "chat", is replaced.
func (a *k8sAPI) applyYAML(manifest []byte, namespace string, edit func(k8sObj)) {
	a.t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	for {
		var obj k8sObj
		err := dec.Decode(&obj)
		if err == io.EOF {
			return
		}
		if err != nil {
			a.t.Fatalf("decoding a manifest: %v", err)
		}
		if obj == nil {
			continue
		}
		k8sRenamespace(obj, namespace)
		if edit != nil {
			edit(obj)
		}
		path, err := k8sCollection(obj["apiVersion"].(string), obj["kind"].(string), namespace)
		if err != nil {
			a.t.Fatal(err)
		}
		a.create(path, obj)
	}
}

// k8sRenamespace replaces the namespace "chat" of the examples with ns in
// metadata and RoleBinding subjects, and in string values naming the
// headless Service's DNS name.
func k8sRenamespace(v any, ns string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok {
				switch {
				case k == "namespace" && s == "chat":
					x[k] = ns
				case strings.Contains(s, ".chat.svc."):
					x[k] = strings.ReplaceAll(s, ".chat.svc.", "."+ns+".svc.")
				}
				continue
			}
			k8sRenamespace(e, ns)
		}
	case []any:
		for _, e := range x {
			k8sRenamespace(e, ns)
		}
	}
}

// serviceAccountToken asks the TokenRequest API for a token of a
// ServiceAccount, as the kubelet does for a pod's projected token.
func (a *k8sAPI) serviceAccountToken(namespace, name string) string {
	a.t.Helper()
	var out struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	req := k8sObj{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": k8sObj{"expirationSeconds": 3600}}
	if err := a.do(http.MethodPost, "/api/v1/namespaces/"+namespace+"/serviceaccounts/"+name+"/token", req, &out); err != nil {
		a.t.Fatal(err)
	}
	if out.Status.Token == "" {
		a.t.Fatalf("TokenRequest for %s/%s: empty token", namespace, name)
	}
	return out.Status.Token
}

// k8sPod is the part of a Pod the tests read.
type k8sPod struct {
	Metadata struct {
		Name              string            `json:"name"`
		DeletionTimestamp *string           `json:"deletionTimestamp"`
		Annotations       map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

// ready reports whether the pod's Ready condition is True.
func (p k8sPod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// pods lists the pods of namespace matching a label selector.
func (a *k8sAPI) pods(namespace, selector string) ([]k8sPod, error) {
	var list struct {
		Items []k8sPod `json:"items"`
	}
	err := a.do(http.MethodGet, "/api/v1/namespaces/"+namespace+"/pods?labelSelector="+selector, nil, &list)
	return list.Items, err
}

// k8sEndpoint is one endpoint of an EndpointSlice.
type k8sEndpoint struct {
	Addresses  []string `json:"addresses"`
	Conditions struct {
		Ready       *bool `json:"ready"`
		Serving     *bool `json:"serving"`
		Terminating *bool `json:"terminating"`
	} `json:"conditions"`
	TargetRef *struct {
		Name string `json:"name"`
	} `json:"targetRef"`
}

// endpoints lists every endpoint of the EndpointSlices of a Service.
func (a *k8sAPI) endpoints(namespace, service string) ([]k8sEndpoint, error) {
	var list struct {
		Items []struct {
			Endpoints []k8sEndpoint `json:"endpoints"`
		} `json:"items"`
	}
	err := a.do(http.MethodGet, "/apis/discovery.k8s.io/v1/namespaces/"+namespace+"/endpointslices?labelSelector=kubernetes.io/service-name="+service, nil, &list)
	var out []k8sEndpoint
	for _, s := range list.Items {
		out = append(out, s.Endpoints...)
	}
	return out, err
}

// dump logs, when the test failed, what an operator would look at first:
// the namespace's pods and events.
func (a *k8sAPI) dump(ns string) {
	var pods struct {
		Items []k8sPod `json:"items"`
	}
	if err := a.do(http.MethodGet, "/api/v1/namespaces/"+ns+"/pods", nil, &pods); err != nil {
		a.t.Logf("dump: %v", err)
	}
	for _, p := range pods.Items {
		a.t.Logf("pod %s: node=%q ip=%q ready=%t deleting=%t", p.Metadata.Name, p.Spec.NodeName, p.Status.PodIP, p.ready(), p.Metadata.DeletionTimestamp != nil)
	}
	var events struct {
		Items []struct {
			Type           string `json:"type"`
			Reason         string `json:"reason"`
			Message        string `json:"message"`
			InvolvedObject struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"involvedObject"`
		} `json:"items"`
	}
	if err := a.do(http.MethodGet, "/api/v1/namespaces/"+ns+"/events", nil, &events); err != nil {
		a.t.Logf("dump: %v", err)
	}
	for _, e := range events.Items {
		a.t.Logf("event %s %s/%s %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
}
