package seeds

import (
	"context"
	"strings"
	"testing"
)

// TestDNSOptionsOfOtherBackends: an option the backend would ignore is an
// error naming the option and the backend, from Validate and Discover.
func TestDNSOptionsOfOtherBackends(t *testing.T) {
	for _, tc := range []struct {
		d    Discoverer
		want []string
	}{
		{DNS("web.test", 1, SRVHostNames()), []string{"SRVHostNames", "seeds.DNS", "only to seeds.SRV"}},
		{SRV("_a._tcp.test", SRVHostNames(), DNSIPv6()), []string{"DNSIPv6", "seeds.SRV with SRVHostNames"}},
		{SRV("_a._tcp.test", DNSDualStack(), SRVHostNames()), []string{"DNSDualStack", "seeds.SRV with SRVHostNames"}},
		{DNS("web.test", 1, DNSIPv6(), DNSDualStack()), []string{"DNSIPv6", "DNSDualStack", "not both"}},
		{DNS("web.test", 1, nil), []string{"option 0 is nil"}},
		{SRV("_a._tcp.test", DNSResolvConf("/r"), DNSResolver("127.0.0.1:53")), []string{"DNSResolver and DNSResolvConf", "not both"}},
		{DNS("web.test", 1, DNSResolver("127.0.0.1:53"), DNSHostsFile("/h")), []string{"DNSResolver and DNSHostsFile", "not both"}},
	} {
		err := validate(tc.d)
		if err == nil {
			t.Errorf("%s: Validate accepted it", name(tc.d))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate = %q, want it to mention %q", name(tc.d), err, w)
			}
		}
		if _, derr := tc.d.Discover(context.Background()); derr == nil {
			t.Errorf("%s: Discover accepted it", name(tc.d))
		}
	}
	// What each backend does use stays accepted.
	for _, d := range []Discoverer{
		DNS("web.test", 1, DNSIPv6(), DNSTimeout(1), DNSResolver("127.0.0.1:53")),
		DNS("web.test", 1, DNSDualStack(), DNSResolvConf("/r"), DNSHostsFile("/h")),
		SRV("_a._tcp.test", DNSDualStack(), DNSTimeout(1)),
		SRV("_a._tcp.test", SRVHostNames(), DNSResolver("127.0.0.1:53")),
	} {
		if err := validate(d); err != nil {
			t.Errorf("%s: Validate: %v", name(d), err)
		}
	}
}

// TestNilOptions: a nil option is an error naming its position, for every
// backend that takes options, never a panic.
func TestNilOptions(t *testing.T) {
	for _, tc := range []struct {
		d    Discoverer
		want string
	}{
		{SRV("_a._tcp.test", DNSTimeout(1), nil), "option 1 is nil"},
		{Kubernetes("ns", "svc", 7946, K8sIncludeNotReady(), nil), "kubernetes: option 1 is nil"},
	} {
		if err := validate(tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", name(tc.d), err, tc.want)
		}
	}
}
