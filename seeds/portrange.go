package seeds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// MaxPortRange is the largest number of ports a PortRange may span.
const MaxPortRange = 1024

// portRange is the Discoverer returned by PortRange.
type portRange struct {
	host        string
	first, last int
}

// PortRange returns a Discoverer that returns host:port for every port from
// first to last inclusive. It is gen_cluster's epmd_all strategy: every node
// of the cluster runs on one host (or behind one address) on a known block of
// ports, as in development or on a single large machine. For example
//
//	seeds.PortRange("127.0.0.1", 7946, 7955)
//
// or the spec "ports+127.0.0.1:7946-7955" ("ports+[::1]:7946-7955" for IPv6;
// "ports+host:7946" for a single port) returns 127.0.0.1:7946 up to
// 127.0.0.1:7955. Joining an address where no node listens only fails that
// one join.
//
// Validate checks that host is not empty, that both ports are from 1 to
// 65535, that first <= last and that the range holds at most MaxPortRange
// ports.
func PortRange(host string, first, last int) Discoverer {
	return portRange{host: host, first: first, last: last}
}

// Discover returns the addresses of the range.
func (p portRange) Discover(context.Context) ([]string, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := make([]string, 0, p.last-p.first+1)
	for port := p.first; port <= p.last; port++ {
		out = append(out, net.JoinHostPort(p.host, strconv.Itoa(port)))
	}
	return out, nil
}

// Validate checks the host and the ports.
func (p portRange) Validate() error {
	var errs []error
	if p.host == "" {
		errs = append(errs, errors.New("port range: empty host"))
	} else if strings.ContainsAny(p.host, " \t\r\n/[]") {
		errs = append(errs, fmt.Errorf("port range: invalid host %q", p.host))
	}
	okPorts := true
	for _, port := range []int{p.first, p.last} {
		if port < 1 || port > 65535 {
			errs = append(errs, fmt.Errorf("port range: port %d: want a number from 1 to 65535", port))
			okPorts = false
		}
	}
	if okPorts {
		if p.first > p.last {
			errs = append(errs, fmt.Errorf("port range %d-%d: first port is above last", p.first, p.last))
		} else if n := p.last - p.first + 1; n > MaxPortRange {
			errs = append(errs, fmt.Errorf("port range %d-%d: %d ports, more than the limit of %d", p.first, p.last, n, MaxPortRange))
		}
	}
	return errors.Join(errs...)
}

// String returns "ports+host:first-last".
func (p portRange) String() string {
	return "ports+" + net.JoinHostPort(p.host, strconv.Itoa(p.first)+"-"+strconv.Itoa(p.last))
}

// parsePortRange reads "host:first-last" or "host:port"; an IPv6 host is
// written in brackets.
func parsePortRange(text string) (Discoverer, error) {
	host, ports, err := net.SplitHostPort(text)
	if err != nil {
		return nil, fmt.Errorf("port range %q: want host:first-last: %w", text, err)
	}
	firstS, lastS, isRange := strings.Cut(ports, "-")
	first, err := backendkit.ParsePort(firstS)
	if err != nil {
		return nil, fmt.Errorf("port range %q: first %w", text, err)
	}
	last := first
	if isRange {
		if last, err = backendkit.ParsePort(lastS); err != nil {
			return nil, fmt.Errorf("port range %q: last %w", text, err)
		}
	}
	return PortRange(host, first, last), nil
}
