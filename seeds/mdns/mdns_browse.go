package mdns

import (
	"context"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	hmdns "github.com/hashicorp/mdns"

	"github.com/gencluster/gencluster/seeds/internal/backendkit"
)

// browseLoop browses now and then every interval, jittered, until ctx
// ends.
func (m *mdnsDiscovery) browseLoop(ctx context.Context, ifi *net.Interface, stdlog *log.Logger) {
	backendkit.EveryJittered(ctx, m.interval, func() { m.browse(ctx, ifi, stdlog) })
}

// browse runs one query and records the instances that answered.
func (m *mdnsDiscovery) browse(ctx context.Context, ifi *net.Interface, stdlog *log.Logger) {
	m.mu.Lock()
	ipv6, self := m.ipv6, m.self
	m.mu.Unlock()
	// The library drops entries it cannot hand over at once, so they are
	// drained while the query runs.
	entries := make(chan *hmdns.ServiceEntry, 64)
	found := make(chan []string, 1)
	go func() {
		var addrs []string
		for e := range entries {
			a, res := m.entryAddr(e, ipv6)
			if res == mdnsAccepted && a == self {
				res = mdnsSelf
			}
			m.answers[res].Add(1)
			if res == mdnsAccepted {
				addrs = append(addrs, a)
			}
		}
		found <- addrs
	}()
	err := m.query(ctx, &hmdns.QueryParam{
		Service:     m.service,
		Domain:      m.domain,
		Timeout:     m.timeout,
		Interface:   ifi,
		Entries:     entries,
		DisableIPv4: ipv6,
		DisableIPv6: !ipv6,
		Logger:      stdlog,
	})
	close(entries)
	addrs := <-found
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastErr = nil
	if err == nil {
		m.browseOK.Add(1)
	} else {
		m.browseErr.Add(1)
		m.lastErr = fmt.Errorf("mdns: browsing %s.%s: %w", m.service, m.domain, err)
	}
	for _, a := range addrs {
		m.peers[a] = now
	}
}

// checkMDNSJoin joins the mDNS group of the family as the library's
// queries do (on the interface the routing table gives for the group), so
// that a host where that fails stops Start with an error that says why,
// instead of failing every browse.
func checkMDNSJoin(ipv6 bool) error {
	network, group, route := "udp4", &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}, "224.0.0.0/4"
	if ipv6 {
		network, group, route = "udp6", &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: 5353}, "ff00::/8"
	}
	c, err := net.ListenMulticastUDP(network, nil, group)
	if err != nil {
		return fmt.Errorf("mdns: joining %s: %w (the host needs a route to the group: a default route, or one for %s on the LAN interface)", group, err, route)
	}
	return c.Close()
}

// entryAddr turns an answer into host:port, or says why it is not a
// peer. The library passes on every complete instance it hears, of any
// service, so the name is checked.
func (m *mdnsDiscovery) entryAddr(e *hmdns.ServiceEntry, ipv6 bool) (string, mdnsResult) {
	suffix := "." + m.service + "." + m.domain + "."
	if !strings.HasSuffix(strings.ToLower(e.Name), strings.ToLower(suffix)) {
		return "", mdnsOtherService
	}
	if e.Port < 1 || e.Port > 65535 {
		return "", mdnsIncomplete
	}
	var host string
	switch {
	case !ipv6 && e.AddrV4 != nil:
		host = e.AddrV4.String()
	case ipv6 && e.AddrV6IPAddr != nil && e.AddrV6IPAddr.IP.To4() == nil:
		host = e.AddrV6IPAddr.String()
	case e.AddrV4 != nil || e.AddrV6IPAddr != nil:
		return "", mdnsOtherFamily
	default:
		return "", mdnsIncomplete
	}
	return net.JoinHostPort(host, strconv.Itoa(e.Port)), mdnsAccepted
}
