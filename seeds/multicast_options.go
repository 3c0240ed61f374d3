package seeds

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// MulticastOption configures a multicast.
type MulticastOption func(*multicast)

// MulticastGroup sets the IPv4 multicast group and UDP port, "ip:port";
// the default is DefaultMulticastGroup. Every node of a cluster must use the
// same group.
func MulticastGroup(hostPort string) MulticastOption {
	return func(m *multicast) { m.group = hostPort }
}

// MulticastInterface sends and listens on the named network interface,
// such as "eth0"; by default the system picks one from its routing table.
func MulticastInterface(name string) MulticastOption {
	return func(m *multicast) { m.iface = name }
}

// MulticastInterval sets how often the node announces itself; the default
// is DefaultMulticastInterval. Each wait is jittered by ±20%.
func MulticastInterval(d time.Duration) MulticastOption {
	return func(m *multicast) { m.interval = d }
}

// MulticastPeerTTL sets how long a peer is returned after its last announcement;
// the default is three announce intervals.
func MulticastPeerTTL(d time.Duration) MulticastOption {
	return func(m *multicast) { m.peerTTL = d }
}

// MulticastTTL sets the IP time-to-live of announcements; the default 1
// keeps them on the local network segment, 0 on the host.
func MulticastTTL(hops int) MulticastOption {
	return func(m *multicast) { m.hops = hops }
}

// MulticastSecret authenticates announcements with HMAC-SHA256 under secret, which
// must be at least MinMulticastSecret bytes. Every node of the cluster needs
// the same secret; announcements without a valid MAC are dropped, so a
// stranger on the network cannot inject peers.
func MulticastSecret(secret []byte) MulticastOption {
	return func(m *multicast) { m.secret = bytes.Clone(secret) }
}

// MulticastMaxPeers bounds the number of peers remembered; announcements of new
// peers beyond it are dropped and counted as result="table_full". The
// default is DefaultMulticastMaxPeers.
func MulticastMaxPeers(n int) MulticastOption {
	return func(m *multicast) { m.maxPeers = n }
}

// parseMulticast reads "cluster[?group=&iface=&interval=&peer-ttl=&ttl=&max-peers=&secret-file=]".
func parseMulticast(text string) (Discoverer, error) {
	cluster, query, _ := strings.Cut(text, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("multicast %q: bad options: %w", text, err)
	}
	var opts []MulticastOption
	for key, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("multicast %q: option %s given %d times", text, key, len(vals))
		}
		v := vals[0]
		switch key {
		case "group":
			opts = append(opts, MulticastGroup(v))
		case "iface":
			opts = append(opts, MulticastInterface(v))
		case "interval", "peer-ttl":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: %s: %w", text, key, err)
			}
			if key == "interval" {
				opts = append(opts, MulticastInterval(d))
			} else {
				opts = append(opts, MulticastPeerTTL(d))
			}
		case "ttl", "max-peers":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: %s %q: want a number", text, key, v)
			}
			if key == "ttl" {
				opts = append(opts, MulticastTTL(n))
			} else {
				opts = append(opts, MulticastMaxPeers(n))
			}
		case "secret-file":
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: secret-file: %w", text, err)
			}
			opts = append(opts, MulticastSecret(bytes.TrimSpace(b)))
		default:
			return nil, fmt.Errorf("multicast %q: unknown option %q (known: group, iface, interval, peer-ttl, ttl, max-peers, secret-file)", text, key)
		}
	}
	return Multicast(cluster, opts...), nil
}
