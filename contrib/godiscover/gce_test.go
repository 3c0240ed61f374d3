package godiscover

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// gceToken is the access token the fake token endpoint hands out.
const gceToken = "ya29.gencluster-test-token"

// gceCredentials writes a service-account key file whose token_uri is
// tokenURL, and returns its path and the key.
func gceCredentials(t *testing.T, tokenURL string) (string, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{
		"type": "service_account", "project_id": "chat-prod", "private_key_id": "0123456789abcdef",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "gencluster@chat-prod.iam.gserviceaccount.com", "client_id": "1234567890",
		"token_uri": tokenURL,
	}
	b, _ := json.Marshal(creds)
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// checkJWT checks a JWT bearer assertion: RS256, signed by key, for the
// service account, asking for the compute scope.
func checkJWT(assertion string, key *rsa.PrivateKey) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return fmt.Errorf("assertion has %d parts", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return err
	}
	if claims.Iss != "gencluster@chat-prod.iam.gserviceaccount.com" || claims.Scope != "https://www.googleapis.com/auth/compute" {
		return fmt.Errorf("claims %+v", claims)
	}
	return nil
}

// fakeGCE serves the compute API's zones and instances lists for project
// chat-prod: two zones matching europe-west1-.*, the instances of one of
// them over two pages.
type fakeGCE struct {
	mu   sync.Mutex
	errs []string
	seen []string
}

func (f *fakeGCE) fail(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeGCE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	if got := r.Header.Get("Authorization"); got != "Bearer "+gceToken {
		f.fail("%s: Authorization %q, want the bearer token", r.URL.Path, got)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	q := r.URL.Query()
	switch r.URL.Path {
	case "/compute/v1/projects/chat-prod/zones":
		if q.Get("filter") != "name eq europe-west1-.*" {
			f.fail("zones filter %q", q.Get("filter"))
		}
		fmt.Fprint(w, `{"kind":"compute#zoneList","id":"projects/chat-prod/zones","items":[
 {"kind":"compute#zone","id":"2100","creationTimestamp":"1969-12-31T16:00:00.000-08:00","name":"europe-west1-b","description":"europe-west1-b","status":"UP","region":"https://www.googleapis.com/compute/v1/projects/chat-prod/regions/europe-west1","selfLink":"https://www.googleapis.com/compute/v1/projects/chat-prod/zones/europe-west1-b"},
 {"kind":"compute#zone","id":"2101","name":"europe-west1-c","status":"UP"}],
 "selfLink":"https://www.googleapis.com/compute/v1/projects/chat-prod/zones"}`)
	case "/compute/v1/projects/chat-prod/zones/europe-west1-b/instances":
		if q.Get("pageToken") == "" {
			fmt.Fprint(w, `{"kind":"compute#instanceList","id":"projects/chat-prod/zones/europe-west1-b/instances","items":[
 {"kind":"compute#instance","id":"1","name":"chat-1","status":"RUNNING","tags":{"items":["chat","http-server"],"fingerprint":"x"},
  "networkInterfaces":[{"kind":"compute#networkInterface","network":"https://www.googleapis.com/compute/v1/projects/chat-prod/global/networks/default","networkIP":"10.132.0.2","name":"nic0","accessConfigs":[{"kind":"compute#accessConfig","type":"ONE_TO_ONE_NAT","name":"External NAT","natIP":"203.0.113.2"}]}]},
 {"kind":"compute#instance","id":"2","name":"web-1","status":"RUNNING","tags":{"items":["http-server"]},"networkInterfaces":[{"networkIP":"10.132.0.3"}]}],
 "nextPageToken":"page-2"}`)
			return
		}
		fmt.Fprint(w, `{"kind":"compute#instanceList","items":[
 {"kind":"compute#instance","id":"3","name":"chat-2","status":"RUNNING","tags":{"items":["chat"]},"networkInterfaces":[{"networkIP":"10.132.0.4"}]}]}`)
	case "/compute/v1/projects/chat-prod/zones/europe-west1-c/instances":
		fmt.Fprint(w, `{"kind":"compute#instanceList","id":"projects/chat-prod/zones/europe-west1-c/instances"}`)
	default:
		f.fail("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`)
	}
}

func TestGCEProvider(t *testing.T) {
	var (
		mu        sync.Mutex
		tokenErrs []string
		key       *rsa.PrivateKey
		tokens    int
	)
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		tokens++
		if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			tokenErrs = append(tokenErrs, "grant_type "+g)
		}
		if err := checkJWT(r.PostForm.Get("assertion"), key); err != nil {
			tokenErrs = append(tokenErrs, "assertion: "+err.Error())
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, gceToken)
	}))
	t.Cleanup(tokenSrv.Close)
	var path string
	path, key = gceCredentials(t, tokenSrv.URL+"/token")
	api := &fakeGCE{}
	done := cloud.handle(map[string]http.Handler{"compute.googleapis.com": api})

	d := New(fmt.Sprintf("provider=gce project_name=chat-prod zone_pattern=europe-west1-.* tag_value=chat credentials_file=%s", path), 7946)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	got, err := d.Discover(ctx)
	cancel()
	refused := done()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.132.0.2:7946", "10.132.0.4:7946"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if len(refused) > 0 {
		t.Fatalf("the provider tried to reach %v", refused)
	}
	mu.Lock()
	defer mu.Unlock()
	api.mu.Lock()
	defer api.mu.Unlock()
	if tokens != 1 || len(tokenErrs) > 0 || len(api.errs) > 0 {
		t.Fatalf("%d token requests (want 1), token errors %v, API errors %v", tokens, tokenErrs, api.errs)
	}
	if len(api.seen) != 4 {
		t.Fatalf("the compute API saw %d requests, want 4 (zones, 2 pages of one zone, the other zone): %v", len(api.seen), api.seen)
	}
}

// TestGCEProviderBadKey: a key the token endpoint refuses gives an error
// naming the provider.
func TestGCEProviderBadKey(t *testing.T) {
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
	}))
	t.Cleanup(tokenSrv.Close)
	path, _ := gceCredentials(t, tokenSrv.URL+"/token")
	done := cloud.handle(map[string]http.Handler{"compute.googleapis.com": &fakeGCE{}})
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := New("provider=gce project_name=chat-prod tag_value=chat credentials_file="+path, 7946).Discover(ctx)
	if err == nil || !strings.Contains(err.Error(), "provider gce: discover-gce:") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("error %v, want one naming the provider and invalid_grant", err)
	}
}
