package godiscover

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	discover "github.com/hashicorp/go-discover"

	"github.com/gencluster/gencluster/seeds"
)

// validate runs d's Validate, as gencluster.Start does.
func validate(d seeds.Discoverer) error { return d.(seeds.Validator).Validate() }

// fakeProvider returns addrs or err; with block set, each call waits
// until block is closed.
type fakeProvider struct {
	addrs []string
	err   error
	block chan struct{}

	mu    sync.Mutex
	calls int
	args  map[string]string
}

func (p *fakeProvider) Addrs(args map[string]string, _ *log.Logger) ([]string, error) {
	p.mu.Lock()
	p.calls++
	p.args = args
	p.mu.Unlock()
	if p.block != nil {
		<-p.block
	}
	return p.addrs, p.err
}

func (p *fakeProvider) Help() string { return "fake" }

func (p *fakeProvider) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func with(p discover.Provider) Option {
	return Providers(map[string]discover.Provider{"fake": p})
}

func TestAddresses(t *testing.T) {
	p := &fakeProvider{addrs: []string{"10.0.0.1", "fd00::1", "10.0.0.2:7000", "[fd00::2]:7001", "10.0.0.1", "peer.internal", "bad host!"}}
	d := New(`provider=fake zone="a b"`, 7946, with(p))
	if err := validate(d); err != nil {
		t.Fatal(err)
	}
	got, err := d.Discover(context.Background())
	want := []string{"10.0.0.1:7946", "[fd00::1]:7946", "10.0.0.2:7000", "[fd00::2]:7001", "peer.internal:7946"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), `provider fake: address "bad host!"`) {
		t.Fatalf("error %v, want one naming the bad address", err)
	}
	if p.args["zone"] != "a b" {
		t.Fatalf("the provider got %v", p.args)
	}
}

func TestProviderError(t *testing.T) {
	p := &fakeProvider{err: errors.New("discover-fake: no credentials")}
	_, err := New("provider=fake", 7946, with(p)).Discover(context.Background())
	if err == nil || err.Error() != "provider fake: discover-fake: no credentials" {
		t.Fatalf("error %v", err)
	}
}

// TestHungProvider: a provider call that outlives Discover's context is
// not repeated: the next Discover waits for the same call.
func TestHungProvider(t *testing.T) {
	p := &fakeProvider{addrs: []string{"10.0.0.1"}, block: make(chan struct{})}
	d := New("provider=fake", 7946, with(p))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := d.Discover(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "provider fake: no answer before Discover's context ended") {
		t.Fatalf("error %v", err)
	}
	// While the call hangs, another Discover waits for it instead of
	// starting a second one.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = d.Discover(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Discover: %v", err)
	}
	if n := p.callCount(); n != 1 {
		t.Fatalf("the provider was called %d times while the first call hung, want 1", n)
	}
	close(p.block)
	if addrs, err := d.Discover(context.Background()); err != nil || !slices.Equal(addrs, []string{"10.0.0.1:7946"}) {
		t.Fatalf("after the call returned: %v, %v", addrs, err)
	}
}

func TestValidate(t *testing.T) {
	for config, want := range map[string]string{
		"provider=nope":                  `unknown provider "nope" (providers: aliyun, aws, azure,`,
		"region=x":                       "no provider=",
		"provider=aws region":            "missing '='",
		"provider=aws secret_access_key": "missing '='",
	} {
		err := validate(New(config, 7946))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q): Validate = %v, want %q", config, err, want)
		}
	}
	err := validate(New("provider=aws secret_access_key=hunter2 x", 7946))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate = %v: want an error that does not show the secret", err)
	}
	if err := validate(New("provider=k8s", 0)); err == nil || !strings.Contains(err.Error(), "godiscover port 0") {
		t.Errorf("port 0: %v", err)
	}
}

func TestRegister(t *testing.T) {
	if _, err := seeds.Default().Parse("discover+provider=aws&port=1"); err == nil {
		t.Fatal("the default Registry knows discover+ without Register")
	}
	r := seeds.Default()
	p := &fakeProvider{addrs: []string{"10.0.0.9"}}
	if err := Register(r, with(p)); err != nil {
		t.Fatal(err)
	}
	if err := Register(r); err == nil {
		t.Fatal("a second Register succeeded")
	}
	d, err := r.Parse("discover+provider=fake&label_selector=app%3Dchat%2Ctier%20x&api_token=abc+/=&port=7946 static+10.0.0.1:7946")
	if err != nil {
		t.Fatal(err)
	}
	if name := fmt.Sprint(d); name != "discover+provider=fake&api_token=REDACTED&label_selector=app%3Dchat,tier%20x&port=7946 static+10.0.0.1:7946" {
		t.Fatalf("Name %q", name)
	}
	got, err := d.Discover(context.Background())
	if err != nil || !slices.Equal(got, []string{"10.0.0.9:7946", "10.0.0.1:7946"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if p.args["label_selector"] != "app=chat,tier x" || p.args["api_token"] != "abc+/=" {
		t.Fatalf("the provider got %v", p.args)
	}
	for spec, want := range map[string]string{
		"discover+provider=fake":               "no port=",
		"discover+provider=fake&port=0":        `port "0"`,
		"discover+provider=fake&port=1&port=2": "port given twice",
		"discover+provider=fake&x&port=1":      "pair 2 of 3: want key=value",
		"discover+provider=nope&port=1":        `unknown provider "nope"`,
		"discover+provider=fake&v=%zz&port=1":  "invalid URL escape",
	} {
		if _, err := r.Parse(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
	if err := Register(nil); err == nil {
		t.Error("Register(nil) succeeded")
	}
}
