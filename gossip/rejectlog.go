package gossip

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gencluster/gencluster/internal/joinfail"
)

// defaultRejectLogEvery is Config.RejectLogEvery's default: the Node's
// default refresh interval.
const defaultRejectLogEvery = 5 * time.Second

// rejectLog condenses what memberlist logs when it refuses a stream or a
// packet of a node that cannot join this one: another key, no key, a key
// where this cluster has none, another label. memberlist logs an ERROR
// for every connection (a node retrying its join makes one every backoff),
// with a "from=" address whose port changes on each TCP connection. Here
// each offending host gets at most one line per interval, at Warn (the
// others are Debug records), with the diagnosis and advice worded for
// this node: a node of a running
// cluster is told the other node must change, a node alone that it is
// itself the odd one out.
type rejectLog struct {
	every time.Duration
	alone func() bool // set once the delegate exists; nil: not alone

	mu   sync.Mutex
	last map[string]rejected // by host
}

// rejected is the state of one offending host.
type rejected struct {
	at      time.Time // when it was last logged
	refused int       // refusals since then, not logged
}

func newRejectLog(every time.Duration) *rejectLog {
	if every <= 0 {
		every = defaultRejectLogEvery
	}
	return &rejectLog{every: every, last: make(map[string]rejected)}
}

// rejectPrefixes start the memberlist lines (net.go) that refuse a peer
// for its configuration, not for a fault of the network.
var rejectPrefixes = []string{
	"failed to receive: ",                        // a TCP stream: key or encryption
	"discarding stream with unacceptable label ", // a TCP stream: label
	"discarding packet with unacceptable label ", // a UDP packet: label
	"Decrypt packet failed: ",                    // a UDP packet: key
}

// handle logs line, a memberlist line without its level prefix, if it is
// a refusal (rate-limited), and reports whether it was one.
func (r *rejectLog) handle(logger *slog.Logger, line string) bool {
	if !hasAnyPrefix(line, rejectPrefixes) {
		return false
	}
	i := strings.LastIndex(line, "from=")
	if i < 0 {
		return false
	}
	host, _, err := net.SplitHostPort(strings.Fields(line[i+len("from="):] + " ")[0])
	if err != nil {
		return false
	}
	kind := joinfail.Classify(line)
	switch kind {
	case joinfail.KeyMismatch, joinfail.PeerEncrypts, joinfail.PeerPlaintext, joinfail.LabelMismatch:
	default:
		return false // another failure to receive: memberlist's line stays
	}
	now := time.Now()
	r.mu.Lock()
	for h, s := range r.last {
		if now.Sub(s.at) >= 2*r.every {
			delete(r.last, h) // a host that stopped: the map stays small
		}
	}
	s, seen := r.last[host]
	s.refused++
	level := slog.LevelWarn
	if seen && now.Sub(s.at) < r.every {
		level = slog.LevelDebug // said already in this interval
		r.last[host] = s
	} else {
		r.last[host] = rejected{at: now}
	}
	refused := s.refused
	r.mu.Unlock()

	alone := r.alone != nil && r.alone()
	logger.Log(context.Background(), level, "refused gossip from a node that cannot join this one",
		"addr", host, "diagnosis", kind.String(), "detail", kind.Detail(), "advice", kind.Advice(alone),
		"refused", refused, "every", r.every, "component", "memberlist")
	return true
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
