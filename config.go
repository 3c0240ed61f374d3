package gencluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-sockaddr/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/internal/discovery"
	"github.com/gencluster/gencluster/seeds"
)

// config is what the options build. Zero values mean "use the default"
// only where Start says so; every default is set in defaultConfig.
type config struct {
	name              string
	bindAddr          string
	advertiseAddr     string
	seeds             []seeds.Discoverer
	backends          []discovery.Backend // seeds resolved once, by newConfig (backends.go)
	refreshInterval   time.Duration
	minBackoff        time.Duration
	discoveryTimeout  time.Duration
	meta              map[string]string
	logger            *slog.Logger
	dist              Dist
	tuneMemberlist    []memberlistTuner
	lookupHost        func(ctx context.Context, host string) ([]string, error) // resolves host-name seeds
	connectConcurrent int
	registerer        prometheus.Registerer // WithMetrics; nil: no metrics
	minMembers        int                   // WithMinMembers; 0 means 1
	label             string                // WithLabel; the snapshot records it
	snapshotPath      string                // WithSnapshot; "" for none
	// memberlistOnly names the options given that only the memberlist
	// Dist can honour (security): Start refuses them with WithDist.
	memberlistOnly []string
	keyringOpt     string      // the keyring option given, to refuse a second (keys.go)
	keys           [][]byte    // WithSecretKey, WithKeyring: primary first
	pendingKeys    [][]byte    // WithKeyringMigration
	allowedCIDRs   []net.IPNet // WithAllowedCIDRs
}

func defaultConfig() config {
	return config{
		bindAddr:          DefaultBindAddr,
		refreshInterval:   DefaultRefreshInterval,
		minBackoff:        DefaultMinBackoff,
		discoveryTimeout:  DefaultDiscoveryTimeout,
		logger:            slog.New(slog.DiscardHandler),
		lookupHost:        net.DefaultResolver.LookupHost,
		connectConcurrent: DefaultConnectConcurrency,
	}
}

// newConfig applies opts over the defaults and fills in what depends on
// several options. Every bad option, bad seed backend (WithSeeds validates
// them) and combination that cannot work is reported at once, one a line,
// each with the one "gencluster: " prefix.
func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, errNilOption)
			continue
		}
		errs = append(errs, o(&c))
	}
	if c.dist != nil {
		for _, opt := range c.memberlistOnly {
			errs = append(errs, fmt.Errorf("%s cannot apply with WithDist: it configures memberlist, and the Dist given with WithDist owns its transport (secure that transport itself, and drop %s)", opt, opt))
		}
	}
	c.backends = discovery.Resolve(c.seeds...)
	errs = append(errs, checkRunners(&c))
	if c.name == "" {
		name, err := defaultName()
		errs = append(errs, err)
		c.name = name
	}
	return c, listErrors("gencluster: ", errs...)
}

// defaultName is the host name plus a short random suffix, so that two
// processes on one host never collide.
func defaultName() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random node name suffix: %w", err)
	}
	return host + "-" + hex.EncodeToString(b[:]), nil
}

// resolveAddrTemplate renders a go-sockaddr template and checks that the
// result is IP:port. An IPv6 address a template renders gets its brackets
// ("{{ GetPrivateIP }}:7946" on a host whose address is fd00::2 is
// [fd00::2]:7946), as net.JoinHostPort writes it.
func resolveAddrTemplate(opt, addr string) (string, error) {
	if addr == "" {
		return "", fmt.Errorf("%s: empty address", opt)
	}
	out := addr
	if strings.Contains(addr, "{{") {
		r, err := template.Parse(addr)
		if err != nil {
			return "", fmt.Errorf("%s %q: template: %w", opt, addr, err)
		}
		out = bracketIPv6(strings.TrimSpace(r))
	}
	host, port, err := net.SplitHostPort(out)
	if err != nil {
		return "", fmt.Errorf("%s %q (rendered %q): want IP:port: %w", opt, addr, out, err)
	}
	if host == "" || net.ParseIP(host) == nil {
		if strings.Contains(addr, "{{") && host == "" {
			return "", fmt.Errorf("%s %q: the template rendered no IP address (is there such an interface?)", opt, addr)
		}
		return "", fmt.Errorf("%s %q: host %q is not an IP address (use a template such as {{ GetPrivateIP }})", opt, addr, host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("%s %q: port %q is not 0 to 65535", opt, addr, port)
	}
	return net.JoinHostPort(host, port), nil
}

// bracketIPv6 turns a rendered "fd00::2:7946" (an IPv6 address, then the
// port the template appended) into "[fd00::2]:7946". The port is what
// follows the last colon: a template yields host:port, so an address
// without a port is an error either way. Anything else is returned as is.
func bracketIPv6(s string) string {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s
	}
	host, port := s[:i], s[i+1:]
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil && port != "" {
		return net.JoinHostPort(host, port)
	}
	return s
}
