// Package seeds holds the discovery backends that seed a gencluster Node's
// join list.
//
// A backend only answers "which addresses might be peers right now"; it does
// not decide membership. The Node joins what discovery returns, and the
// gossip layer (memberlist's SWIM) decides who is alive. A peer that vanishes
// from discovery is therefore not forced out of the cluster.
//
// Backends are values of the one-method Discoverer interface; every
// constructor returns one. Abilities beyond Discover are optional
// interfaces, found by type assertion: Validator (checked by
// gencluster.Start), Runner (background work, started by the Node before
// its initial join) and prometheus.Collector (metrics of the backend's own,
// registered by the Node with WithMetrics). Options carry their backend's
// name (DNSTimeout, K8sNamedPort, ExecTimeout, ...), so that the
// options of one backend cannot be passed to another; the DNSOptions,
// shared by DNS and SRV, each say which of the two they apply to, and
// Validate refuses one given to the other.
//
// Backends can be built in code or from a spec string with Parse, which
// looks the scheme up in a Registry. A spec is one or more scheme+text
// words separated by white space, merged with Merge. The built-in schemes:
//
//	static+a:7946,b:7946                Static
//	dns+name:port                       DNS (A records)
//	dns6+name:port                      DNS with DNSIPv6 (AAAA)
//	dns46+name:port                     DNS with DNSDualStack (A and AAAA)
//	dnssrv+_service._proto.name         SRV (targets resolved to addresses)
//	dnssrvhost+_service._proto.name     SRV with SRVHostNames
//	file+/path                          File
//	ports+host:first-last               PortRange (ports+host:port for one)
//	k8s+[namespace/]service:port        Kubernetes (a named port, or a label
//	                                    selector instead of the service, too)
//	k8s+...?notready=include&list=cached  with K8sIncludeNotReady, K8sCachedList
//	exec+command?arg=&arg=&port=        Exec (a command printing addresses)
//	exec+command?...&timeout=&column=&max-output=&max-lines=
//
// Two more backends live in packages of their own, so that a program that
// never names them does not link their code: LAN multicast (seeds/multicast,
// mcast+cluster) and mDNS / DNS-SD (seeds/mdns, mdns+_service._udp). Their
// schemes are not built in: a program registers them on its Registry
// (multicast.Register, mdns.Register), and a spec naming one on a Registry
// without it is an error that says which package to import.
//
// Only k8s and exec (and mcast, mdns) take options in the spec (after
// '?'); the DNS resolver, resolv.conf, hosts file and timeout options are
// for code only. Each constructor's doc gives its forms in full;
// docs/discovery.md has the whole reference.
package seeds

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// Discoverer returns the host:port addresses of the peers to join.
//
// Discover is called once per refresh interval from one goroutine at a time.
// It should honour ctx's deadline. An error is logged and counted by the
// Node and never stops the cluster; a Discoverer that found some addresses
// and failed on others may return both.
type Discoverer interface {
	Discover(ctx context.Context) ([]string, error)
}

// Validator is implemented by Discoverers whose configuration can be checked
// before the first Discover call. gencluster.Start calls Validate and refuses
// to start on an error, so a typo in a seed list fails at start-up instead of
// at every refresh.
type Validator interface {
	Validate() error
}

// Runner is implemented by backends that work in the background, such as
// multicast announcements (seeds/multicast). The Node calls Start once per Runner, after it
// has bound its gossip port and before its initial join, so that what the
// backend learns at start-up can seed that join.
type Runner interface {
	// Start begins the backend's background work for the node advertising
	// self (host:port) and returns once it runs, or with the error that
	// stopped it from starting (the Node's Start then fails with it). The
	// work stops when ctx ends; wait blocks until it has.
	Start(ctx context.Context, self string) (wait func(), err error)
}

// Func adapts an ordinary function to the Discoverer interface.
type Func func(ctx context.Context) ([]string, error)

// Discover calls f(ctx).
func (f Func) Discover(ctx context.Context) ([]string, error) { return f(ctx) }

// String returns "func", the name of a Func in logs and metric labels.
func (f Func) String() string { return "func" }

// name returns a short description of d for logs and error messages: its
// String method when it has one (every backend of this module has one),
// else its Go type.
func name(d Discoverer) string {
	if s, ok := d.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", d)
}

// validate checks d when it implements Validator.
func validate(d Discoverer) error {
	if v, ok := d.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// ParsePort parses a port number from 1 to 65535, with the error the
// built-in backends give. Backends outside this module (contrib/godiscover)
// use it to read a spec's port= as the built-in ones do.
func ParsePort(s string) (int, error) { return backendkit.ParsePort(s) }

// static is the Discoverer returned by Static.
type static []string

// Static returns a Discoverer that always returns addrs, which are host:port
// strings (host names are resolved when the Node joins them). It is
// gen_cluster's static discovery. Malformed addresses are reported by
// Validate, so gencluster.Start refuses them.
func Static(addrs ...string) Discoverer {
	return static(append([]string(nil), addrs...))
}

// Discover returns the configured addresses.
func (s static) Discover(context.Context) ([]string, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return append([]string(nil), s...), nil
}

// Validate checks every address: host:port with a port from 1 to 65535.
func (s static) Validate() error {
	var errs []error
	for _, a := range s {
		if err := backendkit.CheckAddr(a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// String returns "static+a,b".
func (s static) String() string { return "static+" + strings.Join(s, ",") }
