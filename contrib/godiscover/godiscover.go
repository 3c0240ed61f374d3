// Package godiscover seeds a gencluster Node through
// github.com/hashicorp/go-discover: its providers for AWS (EC2, ECS), Google
// Cloud, Azure, Kubernetes, Aliyun, DigitalOcean, Linode, OpenStack,
// Scaleway, SoftLayer, Tencent Cloud, Triton, vSphere, Packet and mDNS,
// configured with the string Consul and Nomad users write for
// retry_join:
//
//	provider=aws region=eu-west-1 tag_key=cluster tag_value=chat
//
// It is a module of its own (contrib/godiscover), so that the cloud SDKs it
// pulls in (the module's go list -m all lists 264 modules) never reach the
// go.mod of a program that does not import it.
//
// go-discover's providers return IP addresses (the Kubernetes one adds a
// port when a pod's annotation names one). New adds the gossip port to
// those without one and writes IPv6 addresses in brackets, as package
// seeds' backends do (seeds.HostPort).
//
// Which providers were tested against what (see docs/discovery.md): k8s
// against a real kube-apiserver; aws, gce and azure only against local
// HTTP servers answering their APIs' response shapes, never a real cloud;
// the others not at all.
package godiscover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	discover "github.com/hashicorp/go-discover"

	"github.com/gencluster/gencluster/seeds"
)

// Option configures New.
type Option func(*backend)

// Providers adds providers to, or replaces same-named ones of, the set New
// starts from (every go-discover provider, k8s included; see
// DefaultProviders).
func Providers(m map[string]discover.Provider) Option {
	return func(b *backend) { maps.Copy(b.providers, m) }
}

// Logger receives go-discover's log lines ("[DEBUG] discover-aws: ...");
// by default they are dropped.
func Logger(l *log.Logger) Option { return func(b *backend) { b.logger = l } }

// backend is the Discoverer returned by New. It is safe for concurrent
// use.
type backend struct {
	config    string
	port      int
	providers map[string]discover.Provider
	logger    *log.Logger

	mu       sync.Mutex
	inflight *lookup // the provider call running now, if any
}

// lookup is one call of a provider's Addrs.
type lookup struct {
	done  chan struct{} // closed when the call has returned
	addrs []string
	err   error
}

// New returns a seeds.Discoverer that asks the go-discover provider
// configured by config ("provider=NAME key=value ...", go-discover's
// syntax: values with spaces, quotes or '=' in double quotes) and returns
// its addresses with port added to those that have none.
//
// go-discover's providers take no context, so a call cannot be cancelled.
// Discover returns when its context ends, with an error, and the call runs
// on in the background; while it does, the next Discover waits for that
// same call instead of starting another, so there is never more than one
// per Discoverer. How long a hung call lasts is up to the provider's HTTP
// client timeouts.
//
// A provider's error is returned wrapped with the provider's name. An
// address the provider returns that is not an IP address or host name is
// an error too (naming it); the other addresses are still returned.
//
// Validate checks the configuration's syntax, that the provider exists
// and the port; gencluster.Start calls it. Name (logs, metric labels) is
// the spec form of Register, with the values of secret-looking keys
// (secret_access_key, api_token, password, ...) replaced by "REDACTED".
func New(config string, port int, opts ...Option) seeds.Discoverer {
	b := &backend{config: config, port: port, providers: DefaultProviders(), logger: log.New(io.Discard, "", 0)}
	for _, o := range opts {
		if o != nil {
			o(b)
		}
	}
	return b
}

// parse returns the configuration and the provider's name.
func (b *backend) parse() (discover.Config, string, error) {
	cfg, err := discover.Parse(b.config)
	if err != nil {
		return nil, "", fmt.Errorf("godiscover config %q: %w", redact(b.config), err)
	}
	name := cfg["provider"]
	if name == "" {
		return nil, "", fmt.Errorf("godiscover config %q: no provider= (providers: %s)", redact(b.config), strings.Join(slices.Sorted(maps.Keys(b.providers)), ", "))
	}
	if b.providers[name] == nil {
		return nil, "", fmt.Errorf("godiscover config %q: unknown provider %q (providers: %s)", redact(b.config), name, strings.Join(slices.Sorted(maps.Keys(b.providers)), ", "))
	}
	return cfg, name, nil
}

// Validate checks the configuration and the port.
func (b *backend) Validate() error {
	var errs []error
	if _, _, err := b.parse(); err != nil {
		errs = append(errs, err)
	}
	if b.port < 1 || b.port > 65535 {
		errs = append(errs, fmt.Errorf("godiscover port %d: want a number from 1 to 65535", b.port))
	}
	if b.logger == nil {
		errs = append(errs, errors.New("godiscover: nil Logger"))
	}
	return errors.Join(errs...)
}

// Discover asks the provider and returns host:port addresses.
func (b *backend) Discover(ctx context.Context) ([]string, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	_, name, _ := b.parse()
	l := b.start()
	select {
	case <-l.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("provider %s: no answer before Discover's context ended; the call runs on and the next Discover waits for it: %w", name, ctx.Err())
	}
	if l.err != nil {
		return nil, fmt.Errorf("provider %s: %w", name, l.err)
	}
	var (
		out  []string
		errs []error
		seen = make(map[string]bool)
	)
	for _, a := range l.addrs {
		hp, err := seeds.HostPort(strings.TrimSpace(a), b.port)
		if err != nil {
			errs = append(errs, fmt.Errorf("provider %s: address %q: %w", name, a, err))
			continue
		}
		if !seen[hp] {
			seen[hp] = true
			out = append(out, hp)
		}
	}
	return out, errors.Join(errs...)
}

// start returns the call in flight, or starts one.
func (b *backend) start() *lookup {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inflight != nil {
		return b.inflight
	}
	l := &lookup{done: make(chan struct{})}
	b.inflight = l
	d, err := discover.New(discover.WithProviders(b.providers))
	go func() {
		if err == nil {
			l.addrs, l.err = d.Addrs(b.config, b.logger)
		} else {
			l.err = err
		}
		b.mu.Lock()
		b.inflight = nil
		b.mu.Unlock()
		close(l.done)
	}()
	return l
}

// String returns the spec form: "discover+provider=NAME&key=value&...&port=N",
// secrets redacted.
func (b *backend) String() string {
	cfg, err := discover.Parse(b.config)
	if err != nil {
		return "discover+(bad config)"
	}
	keys := slices.Sorted(maps.Keys(cfg))
	parts := []string{"provider=" + seeds.EscapeSpec(cfg["provider"])}
	for _, k := range keys {
		if k == "provider" {
			continue
		}
		v := cfg[k]
		if secretKey(k) {
			v = "REDACTED"
		}
		parts = append(parts, seeds.EscapeSpec(k)+"="+seeds.EscapeSpec(v))
	}
	parts = append(parts, "port="+strconv.Itoa(b.port))
	return "discover+" + strings.Join(parts, "&")
}
