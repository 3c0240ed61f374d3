package seeds

import (
	"context"
	"strings"
	"testing"

	"github.com/gencluster/gencluster/seeds/internal/backendtest"
)

// A Service that does not exist has no EndpointSlice at all: the list (by
// label) is empty with 200, and Discover says so, naming the Service. A
// Service with no pods still has the controller's empty EndpointSlice: no
// addresses and no error.
func TestKubernetesMissingService(t *testing.T) {
	backendtest.CheckLeaks(t)
	f := newFakeAPI(t)
	f.body = func() string { return `{"kind":"EndpointSliceList","metadata":{},"items":[]}` }
	got, err := f.discoverer("example", 7946).Discover(context.Background())
	if len(got) != 0 || err == nil {
		t.Fatalf("no EndpointSlice: Discover = %q, %v; want no address and an error", got, err)
	}
	for _, want := range []string{`Service "example"`, `namespace "prod"`, "does not exist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	f.body = func() string {
		return `{"kind":"EndpointSliceList","metadata":{},"items":[{"metadata":{"name":"example-abcde"},"addressType":"IPv4","endpoints":null,"ports":null}]}`
	}
	got, err = f.discoverer("example", 7946).Discover(context.Background())
	if len(got) != 0 || err != nil {
		t.Fatalf("one empty EndpointSlice: Discover = %q, %v; want nothing, no error", got, err)
	}

	// A label selector may legitimately match nothing yet: no error.
	f.wantLS = "app=chat"
	got, err = f.discoverer("", 7946, K8sLabelSelector("app=chat")).Discover(context.Background())
	if len(got) != 0 || err != nil {
		t.Fatalf("selector, no EndpointSlice: Discover = %q, %v; want nothing, no error", got, err)
	}
}
