package seeds

import (
	"context"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

// TestKubernetesConditions: each combination of ready, serving and
// terminating in conditions.json is returned or not as the table in
// Kubernetes's doc says, by default and with K8sIncludeNotReady.
func TestKubernetesConditions(t *testing.T) {
	backendtest.CheckLeaks(t)
	f := newFakeAPI(t)
	f.body = func() string { return "conditions.json" }
	for _, tc := range []struct {
		name              string // the endpoint's hostname in conditions.json
		addr              string
		byDefault, notRdy bool
	}{
		{"ready", "10.2.0.1:7946", true, true},
		{"no-conditions", "10.2.0.2:7946", true, true},
		{"ready-only-true", "10.2.0.3:7946", true, true},
		{"ready-only-false", "10.2.0.4:7946", false, true},
		{"not-ready", "10.2.0.5:7946", false, true},
		{"publish-not-ready-unready", "10.2.0.6:7946", false, true},
		{"terminating-serving", "10.2.0.7:7946", false, false},
		{"terminating-not-serving", "10.2.0.8:7946", false, false},
		{"publish-not-ready-terminating", "10.2.0.9:7946", false, false},
		{"terminating-only", "10.2.0.10:7946", false, false},
		{"serving-only-false", "10.2.0.11:7946", false, true},
	} {
		for _, notReady := range []bool{false, true} {
			var opts []KubernetesOption
			want := tc.byDefault
			if notReady {
				opts, want = []KubernetesOption{K8sIncludeNotReady()}, tc.notRdy
			}
			got, err := f.discoverer("example", 7946, opts...).Discover(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if has := slices.Contains(got, tc.addr); has != want {
				t.Errorf("%s (IncludeNotReady %v): returned %v, want %v (Discover = %q)", tc.name, notReady, has, want, got)
			}
		}
	}
}

// TestKubernetesListQuery: the query parameters of a list, paged, with and
// without K8sCachedList. resourceVersion=0 goes on the first page only: a
// continue token pins the snapshot, and the API server rejects a
// resourceVersion other than 0 beside one.
func TestKubernetesListQuery(t *testing.T) {
	backendtest.CheckLeaks(t)
	const token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzNDU2Nywic3RhcnQiOiJleGFtcGxlLWFiY1x1MDAwMCJ9"
	sel := "kubernetes.io/service-name=example"
	for _, tc := range []struct {
		name string
		opts []KubernetesOption
		body string
		want []url.Values
	}{
		{"paged", nil, "page1.json", []url.Values{
			{"labelSelector": {sel}, "limit": {"500"}},
			{"labelSelector": {sel}, "limit": {"500"}, "continue": {token}},
		}},
		{"cached, paged", []KubernetesOption{K8sCachedList()}, "page1.json", []url.Values{
			{"labelSelector": {sel}, "limit": {"500"}, "resourceVersion": {"0"}},
			{"labelSelector": {sel}, "limit": {"500"}, "continue": {token}},
		}},
		// An API server that serves resourceVersion=0 from a cache that
		// cannot page ignores limit: one answer, no continue token.
		{"cached, limit ignored", []KubernetesOption{K8sCachedList()}, "slices.json", []url.Values{
			{"labelSelector": {sel}, "limit": {"500"}, "resourceVersion": {"0"}},
		}},
	} {
		f := newFakeAPI(t)
		f.body = func() string { return tc.body }
		f.pages = map[string]string{token: "page2.json"}
		got, err := f.discoverer("example", 7946, tc.opts...).Discover(context.Background())
		if err != nil || len(got) == 0 {
			t.Errorf("%s: Discover = %q, %v", tc.name, got, err)
		}
		f.mu.Lock()
		queries := f.queries
		f.mu.Unlock()
		if !reflect.DeepEqual(queries, tc.want) {
			t.Errorf("%s: queries\n%v\nwant\n%v", tc.name, queries, tc.want)
		}
	}
}
