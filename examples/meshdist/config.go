package meshdist

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"time"
	"unicode/utf8"
)

// Defaults and limits of Config.
const (
	DefaultInterval         = time.Second
	DefaultMissedHeartbeats = 5
	DefaultDialTimeout      = 2 * time.Second
	DefaultMaxFrameSize     = 1 << 20

	// MinInterval is the shortest heartbeat interval New accepts.
	MinInterval = 10 * time.Millisecond
	// MinFrameSize is the smallest MaxFrameSize New accepts: a handshake
	// with the largest metadata must fit.
	MinFrameSize = 16 << 10
	// MaxMetaSize bounds a member's metadata, encoded (JSON).
	MaxMetaSize = 4 << 10
	// MaxNameLen bounds a member's name, in bytes.
	MaxNameLen = 255
)

// Config configures a Dist. Name and Addr are required; the zero value of
// every other field means its default.
type Config struct {
	// Name is this node's name, unique in the cluster (required).
	Name string
	// Addr is the host:port to listen on (required). Port 0 picks a free
	// port: the Dist's Addr reports it.
	Addr string
	// AdvertiseAddr is the host:port peers dial to reach this node.
	// Default: Addr as bound, which must then not be an unspecified IP
	// such as 0.0.0.0.
	AdvertiseAddr string
	// Meta is this node's metadata, seen by every member in Member.Meta
	// (at most MaxMetaSize bytes encoded). UpdateMeta changes it later.
	Meta map[string]string
	// Interval is how often a heartbeat is sent on each connection.
	// Default DefaultInterval (1s), at least MinInterval.
	Interval time.Duration
	// MissedHeartbeats is how many intervals a connection may stay silent
	// before it is closed. Default DefaultMissedHeartbeats (5), at least 2.
	MissedHeartbeats int
	// DialTimeout bounds a dial plus its handshake, and so the time from a
	// broken connection to the failure report. Default DefaultDialTimeout
	// (2s).
	DialTimeout time.Duration
	// MaxFrameSize is the largest frame read or written, in bytes: a
	// larger one closes the connection. Default DefaultMaxFrameSize
	// (1 MiB), at least MinFrameSize.
	MaxFrameSize int
	// Logger receives the Dist's records (keys node, peer, addr, err).
	// Default: discard.
	Logger *slog.Logger
}

// withDefaults validates c and fills in the defaults. Every bad field is
// reported at once, each naming the bad value.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if err := checkName(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("Config.Name: %w", err))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("Config.Addr: empty (want host:port)"))
	} else if err := checkAddr(c.Addr, true); err != nil {
		errs = append(errs, fmt.Errorf("Config.Addr: %w", err))
	}
	if c.AdvertiseAddr != "" {
		if err := checkAddr(c.AdvertiseAddr, false); err != nil {
			errs = append(errs, fmt.Errorf("Config.AdvertiseAddr: %w", err))
		}
	}
	if err := checkMeta(c.Meta); err != nil {
		errs = append(errs, fmt.Errorf("Config.Meta: %w", err))
	}
	c.Meta = maps.Clone(c.Meta)
	switch {
	case c.Interval == 0:
		c.Interval = DefaultInterval
	case c.Interval < MinInterval:
		errs = append(errs, fmt.Errorf("Config.Interval: %v is below the %v minimum", c.Interval, MinInterval))
	}
	switch {
	case c.MissedHeartbeats == 0:
		c.MissedHeartbeats = DefaultMissedHeartbeats
	case c.MissedHeartbeats < 2:
		errs = append(errs, fmt.Errorf("Config.MissedHeartbeats: %d is below the minimum of 2 (one late heartbeat would fail a peer)", c.MissedHeartbeats))
	}
	switch {
	case c.DialTimeout == 0:
		c.DialTimeout = DefaultDialTimeout
	case c.DialTimeout < 0:
		errs = append(errs, fmt.Errorf("Config.DialTimeout: %v is negative", c.DialTimeout))
	}
	switch {
	case c.MaxFrameSize == 0:
		c.MaxFrameSize = DefaultMaxFrameSize
	case c.MaxFrameSize < MinFrameSize:
		errs = append(errs, fmt.Errorf("Config.MaxFrameSize: %d is below the minimum of %d bytes", c.MaxFrameSize, MinFrameSize))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("meshdist: %w", err)
	}
	return c, nil
}

// silence is how long a connection may go without a frame.
func (c Config) silence() time.Duration {
	return time.Duration(c.MissedHeartbeats) * c.Interval
}

// FailureBound is the longest a peer that stopped answering stays a member
// before it is reported failed: MissedHeartbeats×Interval + DialTimeout
// (the silence, then one dial that fails). Defaults: 7s.
func (c Config) FailureBound() time.Duration {
	c, _ = c.withDefaults()
	return c.silence() + c.DialTimeout
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("%.20q...: %d bytes, more than %d", name, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%q: not valid UTF-8", name)
	}
	return nil
}

// checkAddr checks a host:port. A listen address may have port 0 and an
// unspecified IP; an address peers dial may not.
func checkAddr(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if listen {
		return nil
	}
	if host == "" || p == 0 {
		return fmt.Errorf("%q: peers need a host and a non-zero port to dial", addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%q: %s cannot be dialed by peers", addr, host)
	}
	return nil
}

func checkMeta(meta map[string]string) error {
	for k, v := range meta {
		if k == "" {
			return errors.New("empty key")
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("key %q: not valid UTF-8", k)
		}
	}
	if n := metaSize(meta); n > MaxMetaSize {
		return fmt.Errorf("%d bytes encoded, more than %d", n, MaxMetaSize)
	}
	return nil
}
