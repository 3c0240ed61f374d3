package godiscover

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// describeInstancesXML is an EC2 DescribeInstances answer (API version
// 2016-11-15) as EC2 sends it, trimmed to the fields the provider reads
// plus some it does not: two reservations, three running instances, one
// without a private address, and one with an IPv6 address.
const describeInstancesXML = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf-496f-496e-8fe3-1e3ae0a1d4f7</requestId>
  <reservationSet>
    <item>
      <reservationId>r-0a1b2c3d4e5f60718</reservationId>
      <ownerId>123456789012</ownerId>
      <groupSet/>
      <instancesSet>
        <item>
          <instanceId>i-0123456789abcdef0</instanceId>
          <imageId>ami-0abcdef1234567890</imageId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <privateDnsName>ip-10-0-1-10.eu-west-1.compute.internal</privateDnsName>
          <instanceType>t3.micro</instanceType>
          <placement><availabilityZone>eu-west-1a</availabilityZone><tenancy>default</tenancy></placement>
          <subnetId>subnet-0123456789abcdef0</subnetId>
          <vpcId>vpc-0123456789abcdef0</vpcId>
          <privateIpAddress>10.0.1.10</privateIpAddress>
          <ipAddress>203.0.113.10</ipAddress>
          <tagSet>
            <item><key>cluster</key><value>chat</value></item>
            <item><key>aws:autoscaling:groupName</key><value>chat-asg</value></item>
          </tagSet>
          <networkInterfaceSet>
            <item>
              <networkInterfaceId>eni-0123456789abcdef0</networkInterfaceId>
              <privateIpAddress>10.0.1.10</privateIpAddress>
              <ipv6AddressesSet><item><ipv6Address>2001:db8:1::10</ipv6Address></item></ipv6AddressesSet>
            </item>
          </networkInterfaceSet>
        </item>
        <item>
          <instanceId>i-0123456789abcdef1</instanceId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <privateIpAddress>10.0.2.11</privateIpAddress>
          <tagSet><item><key>cluster</key><value>chat</value></item></tagSet>
          <networkInterfaceSet>
            <item><networkInterfaceId>eni-0123456789abcdef1</networkInterfaceId><privateIpAddress>10.0.2.11</privateIpAddress></item>
          </networkInterfaceSet>
        </item>
      </instancesSet>
    </item>
    <item>
      <reservationId>r-0a1b2c3d4e5f60719</reservationId>
      <ownerId>123456789012</ownerId>
      <instancesSet>
        <item>
          <instanceId>i-0123456789abcdef2</instanceId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <tagSet><item><key>cluster</key><value>chat</value></item></tagSet>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
</DescribeInstancesResponse>`

// awsRequest is what the fake EC2 endpoint saw.
type awsRequest struct {
	method, path string
	header       http.Header
	form         url.Values
}

func fakeEC2(t *testing.T) (*httptest.Server, func() []awsRequest) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []awsRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		seen = append(seen, awsRequest{r.Method, r.URL.Path, r.Header.Clone(), form})
		mu.Unlock()
		if form.Get("Action") != "DescribeInstances" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InvalidAction</Code><Message>not faked</Message></Error></Errors><RequestID>x</RequestID></Response>`)
			return
		}
		if form.Get("Filter.1.Value.1") != "chat" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>`)
			return
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		io.WriteString(w, describeInstancesXML)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []awsRequest {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// sigV4 is the form of a SigV4 Authorization header for ec2 in eu-west-1
// with the test's access key.
var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDGENCLUSTERTEST/\d{8}/eu-west-1/ec2/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)

func TestAWSProvider(t *testing.T) {
	srv, requests := fakeEC2(t)
	for _, tc := range []struct {
		addrType string
		want     []string
	}{
		{"", []string{"10.0.1.10:7946", "10.0.2.11:7946"}},
		{"public_v4", []string{"203.0.113.10:7946"}},
		{"public_v6", []string{"[2001:db8:1::10]:7946"}},
	} {
		config := "provider=aws region=eu-west-1 tag_key=cluster tag_value=chat access_key_id=AKIDGENCLUSTERTEST secret_access_key=c2VjcmV0+/= endpoint=" + srv.URL
		if tc.addrType != "" {
			config += " addr_type=" + tc.addrType
		}
		// go-discover's own quoting: the secret holds '='.
		config = strings.Replace(config, "secret_access_key=c2VjcmV0+/=", `secret_access_key="c2VjcmV0+/="`, 1)
		d := New(config, 7946)
		if err := d.(interface{ Validate() error }).Validate(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		got, err := d.Discover(ctx)
		cancel()
		if err != nil {
			t.Fatalf("addr_type %q: %v", tc.addrType, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("addr_type %q: got %v, want %v", tc.addrType, got, tc.want)
		}
	}
	reqs := requests()
	if len(reqs) != 3 {
		t.Fatalf("the fake EC2 saw %d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.method != http.MethodPost || r.path != "/" {
			t.Errorf("request %s %s, want POST /", r.method, r.path)
		}
		auth := r.header.Get("Authorization")
		m := sigV4.FindStringSubmatch(auth)
		if m == nil {
			t.Fatalf("Authorization %q is not a SigV4 signature with the test key for ec2 in eu-west-1", auth)
		}
		for _, h := range []string{"host", "x-amz-date"} {
			if !slices.Contains(strings.Split(m[1], ";"), h) {
				t.Errorf("SignedHeaders %q lack %s", m[1], h)
			}
		}
		if r.header.Get("X-Amz-Date") == "" {
			t.Error("no X-Amz-Date header")
		}
		want := url.Values{
			"Action": {"DescribeInstances"}, "Version": {"2016-11-15"},
			"Filter.1.Name": {"tag:cluster"}, "Filter.1.Value.1": {"chat"},
			"Filter.2.Name": {"instance-state-name"}, "Filter.2.Value.1": {"running"},
		}
		for k, v := range want {
			if !slices.Equal(r.form[k], v) {
				t.Errorf("request parameter %s = %q, want %q (all: %v)", k, r.form[k], v, r.form)
			}
		}
	}
}

// TestAWSProviderError: EC2's error answer comes back wrapped with the
// provider's name.
func TestAWSProviderError(t *testing.T) {
	srv, _ := fakeEC2(t)
	d := New("provider=aws region=eu-west-1 tag_key=cluster tag_value=other access_key_id=AKIDGENCLUSTERTEST secret_access_key=x endpoint="+srv.URL, 7946)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := d.Discover(ctx)
	for _, want := range []string{"provider aws: discover-aws: DescribeInstancesInput failed", "StatusCode: 401", "UnauthorizedOperation"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not contain %q", err, want)
		}
	}
}
