package multicast

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gencluster/gencluster/seeds"
)

// Option configures a multicast.
type Option func(*multicast)

// Group sets the IPv4 multicast group and UDP port, "ip:port";
// the default is DefaultGroup. Every node of a cluster must use the
// same group.
func Group(hostPort string) Option {
	return func(m *multicast) { m.group = hostPort }
}

// Interface sends and listens on the named network interface,
// such as "eth0"; by default the system picks one from its routing table.
func Interface(name string) Option {
	return func(m *multicast) { m.iface = name }
}

// Interval sets how often the node announces itself; the default
// is DefaultInterval. Each wait is jittered by ±20%.
func Interval(d time.Duration) Option {
	return func(m *multicast) { m.interval = d }
}

// PeerTTL sets how long a peer is returned after its last announcement;
// the default is three announce intervals.
func PeerTTL(d time.Duration) Option {
	return func(m *multicast) { m.peerTTL = d }
}

// TTL sets the IP time-to-live of announcements; the default 1
// keeps them on the local network segment, 0 on the host.
func TTL(hops int) Option {
	return func(m *multicast) { m.hops = hops }
}

// Secret authenticates announcements with HMAC-SHA256 under secret, which
// must be at least MinSecret bytes. Every node of the cluster needs
// the same secret; announcements without a valid MAC are dropped, so a
// stranger on the network cannot inject peers.
func Secret(secret []byte) Option {
	return func(m *multicast) { m.secret = bytes.Clone(secret) }
}

// MaxPeers bounds the number of peers remembered; announcements of new
// peers beyond it are dropped and counted as result="table_full". The
// default is DefaultMaxPeers.
func MaxPeers(n int) Option {
	return func(m *multicast) { m.maxPeers = n }
}

// parseMulticast reads "cluster[?group=&iface=&interval=&peer-ttl=&ttl=&max-peers=&secret-file=]".
func parseMulticast(text string) (seeds.Discoverer, error) {
	cluster, query, _ := strings.Cut(text, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("multicast %q: bad options: %w", text, err)
	}
	var opts []Option
	for key, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("multicast %q: option %s given %d times", text, key, len(vals))
		}
		v := vals[0]
		switch key {
		case "group":
			opts = append(opts, Group(v))
		case "iface":
			opts = append(opts, Interface(v))
		case "interval", "peer-ttl":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: %s: %w", text, key, err)
			}
			if key == "interval" {
				opts = append(opts, Interval(d))
			} else {
				opts = append(opts, PeerTTL(d))
			}
		case "ttl", "max-peers":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: %s %q: want a number", text, key, v)
			}
			if key == "ttl" {
				opts = append(opts, TTL(n))
			} else {
				opts = append(opts, MaxPeers(n))
			}
		case "secret-file":
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("multicast %q: secret-file: %w", text, err)
			}
			opts = append(opts, Secret(bytes.TrimSpace(b)))
		default:
			return nil, fmt.Errorf("multicast %q: unknown option %q (known: group, iface, interval, peer-ttl, ttl, max-peers, secret-file)", text, key)
		}
	}
	return New(cluster, opts...), nil
}
