// Package drainproto is the protocol of Node.Drain, apart from any
// transport: the wire format (codec.go), the asker's side, which asks the
// live members until each has acknowledged that its view holds the asker
// draining (coordinator.go), and the answerer's side (this file). A Host
// (package gossip's memberlist adapter) knows the view, and sends the
// bytes.
//
// The draining itself (the member's state in every view) travels by
// gossip, as the member's metadata; this protocol only collects the
// acknowledgements, so that the asker knows when every live member has
// stopped giving it work. A member answers for what its own view holds:
// it says "seen" only when its view holds the asker, by name, draining
// and in the life (boot id) the request names; the answer goes to the
// address its view has for the asker, never to one the message carries.
package drainproto

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Peer is a live member as the host's view holds it.
type Peer struct {
	Name, Addr string
	// Boot is the member's boot id (membership.BootID); 0 when unknown.
	Boot uint64
	// Draining: the view holds the member draining.
	Draining bool
}

// Host is what an Endpoint needs of the node it runs on. Its methods are
// called from the Endpoint's goroutines and from Notify's caller.
type Host interface {
	// Self is this node.
	Self() Peer
	// Peers returns the live members other than this node.
	Peers() []Peer
	// Peer returns the live member called name, if there is one.
	Peer(name string) (Peer, bool)
	// Send delivers b to the member reliably, or fails. It may block
	// for as long as the host's own bound on a send (memberlist's
	// TCPTimeout), and must end early when the host stops.
	Send(to Peer, b []byte) error
	// Pull exchanges state with the member (memberlist's push-pull), so
	// that this node's view catches up with what the member says of
	// itself. The same bounds as Send apply.
	Pull(from Peer) error
}

// Config configures an Endpoint.
type Config struct {
	Logger *slog.Logger
	// Stopped is the error Drain returns once the Endpoint stopped.
	Stopped error
	// Every is how often a pending member is asked again; 0 is
	// DefaultEvery.
	Every time.Duration
	// PullAfter is how long an answerer goes on answering "not yet" to
	// one drain before it pulls the asker's state, and then the least
	// time between two pulls from one asker; 0 is DefaultPullAfter.
	PullAfter time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// DefaultPullAfter is a few gossip rounds at memberlist's LAN defaults:
// by then a member that has not heard of the drain by gossip has
// probably missed the broadcast (memberlist sends it a bounded number of
// times), and would otherwise wait for its next periodic push-pull, 30 s
// or more away. Pulls are rare: only lagging members make them, one at a
// time per asker.
const DefaultPullAfter = time.Second

// DefaultEvery is how often a member that has not acknowledged is asked
// again: often enough that a drain completes within a gossip round or
// two of every view holding it, rarely enough that a large cluster
// (one small TCP message per pending member per round) does not notice.
const DefaultEvery = 200 * time.Millisecond

// Endpoint is a node's side of the drain protocol: the calls in flight
// and the sends. It has no goroutine at rest: Notify handles a message
// at once, and sends run in goroutines that Stop waits for.
type Endpoint struct {
	host      Host
	logger    *slog.Logger
	every     time.Duration
	pullAfter time.Duration
	now       func() time.Time
	stopped   error

	ctx    context.Context // ends at Stop
	cancel context.CancelFunc
	sem    chan struct{} // one Drain at a time

	mu       sync.Mutex
	wg       sync.WaitGroup // sends; Add only under mu, before down
	down     bool           // Stop was called
	calls    map[ID]*call
	replying map[string]bool // askers a reply is being sent to
	lagging  map[string]*lag // askers this node answered "not yet" (pull.go)
}

// New returns an Endpoint for host.
func New(host Host, cfg Config) *Endpoint {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{host: host, logger: cfg.Logger, every: cfg.Every, pullAfter: cfg.PullAfter, now: cfg.Now, stopped: cfg.Stopped,
		ctx: ctx, cancel: cancel, sem: make(chan struct{}, 1),
		calls: make(map[ID]*call), replying: make(map[string]bool), lagging: make(map[string]*lag)}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.every <= 0 {
		e.every = DefaultEvery
	}
	if e.pullAfter <= 0 {
		e.pullAfter = DefaultPullAfter
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.stopped == nil {
		e.stopped = errors.New("drain endpoint stopped")
	}
	return e
}

// Stop ends the calls in flight (Drain returns Config.Stopped), refuses
// new sends, and waits for the sends in flight, which the host ends when
// it stops.
func (e *Endpoint) Stop() {
	e.mu.Lock()
	e.down = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

// goSend runs send in a goroutine that Stop waits for, unless the
// Endpoint stopped (then it reports false).
func (e *Endpoint) goSend(send func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return false
	}
	e.wg.Go(send)
	return true
}

// Notify handles one message that starts with Prefix, from the host's
// receive path: it never blocks (a reply is sent from a goroutine of its
// own), and it drops what it cannot use, logging why at debug level.
func (e *Endpoint) Notify(b []byte) {
	req, rep, err := decode(b)
	switch {
	case err != nil:
		e.logger.Debug("drain message dropped", "err", err)
	case req != nil:
		e.answer(*req)
	default:
		e.onReply(*rep)
	}
}

// answer replies to a request from a live member of this node's view, at
// the address the view has for it, saying whether the view holds it
// draining in the life the request names. One reply per asker is in
// flight at most: the asker asks again while it waits, so a request that
// comes while one is being sent is dropped.
func (e *Endpoint) answer(r request) {
	asker, ok := e.host.Peer(r.name)
	if !ok {
		e.logger.Debug("drain request from no live member dropped", "peer", r.name)
		return
	}
	self := e.host.Self()
	seen := asker.Draining && asker.Boot == r.boot
	e.noteLag(asker, r.id, seen)
	b := encodeReply(reply{id: r.id, seen: seen, boot: self.Boot, name: self.Name})
	e.mu.Lock()
	busy := e.replying[asker.Name]
	if !busy {
		e.replying[asker.Name] = true
	}
	e.mu.Unlock()
	if busy {
		return
	}
	started := e.goSend(func() {
		if err := e.host.Send(asker, b); err != nil {
			e.logger.Debug("drain reply not sent", "peer", asker.Name, "addr", asker.Addr, "err", err)
		}
		e.mu.Lock()
		delete(e.replying, asker.Name)
		e.mu.Unlock()
	})
	if !started {
		e.mu.Lock()
		delete(e.replying, asker.Name)
		e.mu.Unlock()
	}
}
