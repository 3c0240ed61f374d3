// Package backendkit holds what the discovery backends of package seeds and
// of its sub-packages (seeds/mdns, seeds/multicast) share but do not offer
// their users: address checks, option checks and the jittered timer of the
// backends that work in the background.
package backendkit

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// NilOptionErrors reports the nil options given to a backend, by their
// position, rather than panicking when they are applied.
func NilOptionErrors(backend string, positions []int) []error {
	var errs []error
	for _, i := range positions {
		errs = append(errs, fmt.Errorf("%s: option %d is nil", backend, i))
	}
	return errs
}

// CheckAddr checks that addr is a host:port with a non-empty host and a
// port from 1 to 65535. Its errors name addr.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("seed address %q: want host:port: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("seed address %q: empty host", addr)
	}
	if strings.ContainsAny(host, " \t\r\n/") {
		return fmt.Errorf("seed address %q: invalid host %q", addr, host)
	}
	if _, err := ParsePort(port); err != nil {
		return fmt.Errorf("seed address %q: %w", addr, err)
	}
	return nil
}

// ParsePort parses a port number from 1 to 65535.
func ParsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q: want a number from 1 to 65535", s)
	}
	return p, nil
}

// EveryJittered runs f now, then again and again after a pause of interval
// give or take 20%, until ctx ends. The jitter keeps nodes started
// together (a rollout) from announcing or browsing in lockstep.
func EveryJittered(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
		t.Reset(time.Duration(float64(interval) * (0.8 + 0.4*mrand.Float64())))
	}
}
