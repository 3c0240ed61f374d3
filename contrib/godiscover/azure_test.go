package godiscover

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	azureTenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	azureClient       = "0a1b2c3d-0000-4000-8000-000000000001"
	azureSubscription = "00000000-1111-2222-3333-444444444444"
	azureSecret       = "fpOfcHQJAQBczjAxiVpeyLmX1M0M0KPBST+GU2GvEN4="
	azureToken        = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.gencluster-test.sig"
)

// azureNICs is an ARM list of network interfaces (API version
// 2015-06-15, the one go-discover's SDK package calls): three NICs, two
// tagged cluster=chat, one of them with two IP configurations.
var azureNICs = `{"value":[
 {"name":"chat-vm-1-nic","id":"/subscriptions/` + azureSubscription + `/resourceGroups/chat/providers/Microsoft.Network/networkInterfaces/chat-vm-1-nic",
  "etag":"W/\"00000000-0000-0000-0000-000000000000\"","location":"westeurope","tags":{"cluster":"chat"},
  "properties":{"provisioningState":"Succeeded","resourceGuid":"a1b2","ipConfigurations":[
   {"name":"ipconfig1","id":"/subscriptions/` + azureSubscription + `/resourceGroups/chat/providers/Microsoft.Network/networkInterfaces/chat-vm-1-nic/ipConfigurations/ipconfig1",
    "properties":{"provisioningState":"Succeeded","privateIPAddress":"10.1.0.4","privateIPAllocationMethod":"Dynamic","subnet":{"id":"/subscriptions/x/resourceGroups/chat/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"},"primary":true}},
   {"name":"ipconfig2","properties":{"privateIPAddress":"10.1.0.5","privateIPAllocationMethod":"Static"}}],
   "macAddress":"00-0D-3A-2B-3C-4D","enableIPForwarding":false,"primary":true,
   "virtualMachine":{"id":"/subscriptions/x/resourceGroups/chat/providers/Microsoft.Compute/virtualMachines/chat-vm-1"}}},
 {"name":"chat-vm-2-nic","id":"/subscriptions/x/resourceGroups/chat/providers/Microsoft.Network/networkInterfaces/chat-vm-2-nic","location":"westeurope",
  "tags":{"cluster":"chat","env":"prod"},"properties":{"ipConfigurations":[{"name":"ipconfig1","properties":{"privateIPAddress":"10.1.0.6"}}]}},
 {"name":"web-nic","id":"/subscriptions/x/resourceGroups/web/providers/Microsoft.Network/networkInterfaces/web-nic","location":"westeurope",
  "tags":{"cluster":"web"},"properties":{"ipConfigurations":[{"name":"ipconfig1","properties":{"privateIPAddress":"10.2.0.4"}}]}}
]}`

// fakeAzure answers Azure AD's v1 token endpoint and ARM's network
// interfaces list, and records what does not look like the real clients'
// requests.
type fakeAzure struct {
	mu     sync.Mutex
	errs   []string
	tokens int
	lists  int
}

func (f *fakeAzure) fail(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeAzure) login(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens++
	if r.Method != http.MethodPost || r.URL.Path != "/"+azureTenant+"/oauth2/token" {
		f.fail("token request %s %s", r.Method, r.URL.Path)
	}
	want := url.Values{"grant_type": {"client_credentials"}, "client_id": {azureClient}, "client_secret": {azureSecret}, "resource": {"https://management.azure.com/"}}
	for k, v := range want {
		if !slices.Equal(r.PostForm[k], v) {
			f.fail("token request %s = %q, want %q", k, r.PostForm[k], v)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	exp := time.Now().Add(time.Hour).Unix()
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599","expires_on":"%d","not_before":"%d","resource":"https://management.azure.com/","access_token":%q}`,
		exp, time.Now().Unix(), azureToken)
}

func (f *fakeAzure) arm(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if got := r.Header.Get("Authorization"); got != "Bearer "+azureToken {
		f.fail("ARM Authorization %q, want the bearer token", got)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"AuthenticationFailed","message":"Authentication failed."}}`)
		return
	}
	wantPath := "/subscriptions/" + azureSubscription + "/providers/Microsoft.Network/networkInterfaces"
	if r.URL.Path != wantPath || r.URL.Query().Get("api-version") != "2015-06-15" {
		f.fail("ARM request %s %s, want GET %s?api-version=2015-06-15", r.Method, r.URL, wantPath)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fmt.Fprint(w, azureNICs)
}

func TestAzureProvider(t *testing.T) {
	f := &fakeAzure{}
	done := cloud.handle(map[string]http.Handler{
		"login.microsoftonline.com": http.HandlerFunc(f.login),
		"management.azure.com":      http.HandlerFunc(f.arm),
	})
	config := fmt.Sprintf("provider=azure tenant_id=%s client_id=%s subscription_id=%s secret_access_key=%q tag_name=cluster tag_value=chat",
		azureTenant, azureClient, azureSubscription, azureSecret)
	d := New(config, 7946)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	got, err := d.Discover(ctx)
	cancel()
	refused := done()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.1.0.4:7946", "10.1.0.5:7946", "10.1.0.6:7946"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if len(refused) > 0 {
		t.Fatalf("the provider tried to reach %v", refused)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens != 1 || f.lists != 1 || len(f.errs) > 0 {
		t.Fatalf("%d token and %d list requests (want 1 each); wrong: %v", f.tokens, f.lists, f.errs)
	}
	if name := fmt.Sprint(d); strings.Contains(name, "fpOf") || !strings.Contains(name, "secret_access_key=REDACTED") {
		t.Fatalf("Name %q shows the secret", name)
	}
}
