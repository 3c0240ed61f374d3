package seeds

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Builder makes a Discoverer from the part of a spec string after
// "scheme+". It returns an error naming the bad part when the text is
// malformed.
type Builder func(text string) (Discoverer, error)

// Registry maps spec-string schemes to Builders, as grpc-go's resolver
// registry and go-discover's provider map do. It is a value, not a package
// global: a program (or a test) builds its own with NewRegistry or
// Default, adds its schemes, and parses with it. The built-in schemes come
// with Default; the backends that need more code than this package links
// register themselves, so that a program links only what it names:
//
//	r := seeds.Default()
//	if err := mdns.Register(r); err != nil { ... }      // seeds/mdns: mdns+
//	if err := multicast.Register(r); err != nil { ... } // seeds/multicast: mcast+
//	d, err := r.Parse("mdns+_chat._udp dns+chat-gossip:7946")
//
// A Registry is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	builders map[string]Builder
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{builders: make(map[string]Builder)}
}

// Default returns a new Registry holding every built-in scheme of this
// package. Each call returns a fresh Registry, so registering a scheme on
// one never changes another.
func Default() *Registry {
	r := NewRegistry()
	for scheme, b := range builtins() {
		if err := r.Register(scheme, b); err != nil {
			panic(err) // the built-in table is fixed; a clash is a bug here.
		}
	}
	return r
}

// Register adds a scheme. Scheme names are lower-case letters, digits and
// '-' and must not be registered already.
func (r *Registry) Register(scheme string, b Builder) error {
	if scheme == "" || strings.Trim(scheme, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("seeds: invalid scheme %q: use lower-case letters, digits and '-'", scheme)
	}
	if b == nil {
		return fmt.Errorf("seeds: scheme %q: nil Builder", scheme)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.builders[scheme]; dup {
		return fmt.Errorf("seeds: scheme %q is already registered", scheme)
	}
	r.builders[scheme] = b
	return nil
}

// Schemes returns the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.builders))
	for s := range r.builders {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Parse turns a spec string into a Discoverer. A spec is one or more
// "scheme+text" words separated by white space, for example
//
//	static+10.0.0.1:7946,10.0.0.2:7946 dns+headless.ns.svc.cluster.local:7946
//
// Several words are merged with Merge. Errors name the word and the scheme
// that failed.
func (r *Registry) Parse(spec string) (Discoverer, error) {
	words := strings.Fields(spec)
	if len(words) == 0 {
		return nil, fmt.Errorf("seeds: empty seed spec %q", spec)
	}
	ds := make([]Discoverer, 0, len(words))
	for _, w := range words {
		d, err := r.parseOne(w)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return Merge(ds...), nil
}

func (r *Registry) parseOne(word string) (Discoverer, error) {
	scheme, text, ok := strings.Cut(word, "+")
	if !ok {
		return nil, fmt.Errorf("seeds: spec %q: want scheme+text (schemes: %s)", word, strings.Join(r.Schemes(), ", "))
	}
	r.mu.RLock()
	b := r.builders[scheme]
	r.mu.RUnlock()
	if b == nil {
		if pkg := optionalPackage(scheme); pkg != "" {
			return nil, fmt.Errorf("seeds: spec %q: scheme %q is not registered: its backend is in package %s; import it and call %s.Register on the Registry that parses this spec (for GENCLUSTER_SEEDS: gencluster.FromEnv(gencluster.SeedRegistry(registry)))", word, scheme, pkg, pkg[strings.LastIndexByte(pkg, '/')+1:])
		}
		return nil, fmt.Errorf("seeds: spec %q: unknown scheme %q (schemes: %s)", word, scheme, strings.Join(r.Schemes(), ", "))
	}
	if text == "" {
		return nil, fmt.Errorf("seeds: spec %q: nothing after %q", word, scheme+"+")
	}
	d, err := b(text)
	if err != nil {
		return nil, fmt.Errorf("seeds: spec %q: %w", word, err)
	}
	if err := validate(d); err != nil {
		return nil, fmt.Errorf("seeds: spec %q: %w", word, err)
	}
	return d, nil
}

// Parse parses spec with the built-in schemes (see Default): not mdns+ or
// mcast+, whose backends are in packages of their own; parse those with a
// Registry they were registered on.
func Parse(spec string) (Discoverer, error) { return Default().Parse(spec) }
