package seeds

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// errNoPort is HostPort's error for a host without a port when there is
// no default port.
var errNoPort = errors.New("no port, and no default port")

// HostPort reads one peer address as a backend found it: "host:port",
// "host", "[ipv6]:port", "[ipv6]" or a bare "ipv6", and returns host:port
// as the Node joins it, with IPv6 addresses in brackets. port is used when
// the text has none; with port 0 such a text is an error. A host name must
// be a valid DNS name; an IPv6 address with a port needs its brackets
// ("fd00::1:7946" is read as an address without a port, as it is one).
// Backends outside this package (contrib/godiscover) use it to treat
// addresses as the built-in ones do.
func HostPort(text string, port int) (string, error) {
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("default port %d: want 0 (none) or a number from 1 to 65535", port)
	}
	withPort := func(host string) (string, error) {
		if port == 0 {
			return "", errNoPort
		}
		return net.JoinHostPort(host, strconv.Itoa(port)), nil
	}
	if ip, err := netip.ParseAddr(text); err == nil {
		return withPort(ip.String())
	}
	if inner, ok := strings.CutPrefix(text, "["); ok && strings.HasSuffix(inner, "]") {
		ip, err := netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		if err != nil || !ip.Is6() {
			return "", fmt.Errorf("%q in brackets is not an IPv6 address", strings.TrimSuffix(inner, "]"))
		}
		return withPort(ip.String())
	}
	if !strings.Contains(text, ":") {
		if err := checkDomainName(text); err != nil {
			return "", fmt.Errorf("host %w", err)
		}
		return withPort(text)
	}
	host, p, err := net.SplitHostPort(text)
	if err != nil {
		return "", fmt.Errorf("want host, host:port, [ipv6] or [ipv6]:port: %w", err)
	}
	if _, err := backendkit.ParsePort(p); err != nil {
		return "", err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if strings.HasPrefix(text, "[") != ip.Is6() {
			return "", fmt.Errorf("IPv6 addresses with a port need brackets, and only they take them")
		}
		return net.JoinHostPort(ip.String(), p), nil
	}
	if strings.HasPrefix(text, "[") {
		return "", fmt.Errorf("%q in brackets is not an IPv6 address", host)
	}
	if err := checkDomainName(host); err != nil {
		return "", fmt.Errorf("host %w", err)
	}
	return net.JoinHostPort(host, p), nil
}
