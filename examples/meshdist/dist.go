package meshdist

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"

	"github.com/gencluster/gencluster"
)

// ErrClosed is returned (wrapped) by Connect and UpdateMeta once Leave or
// Close was called.
var ErrClosed = errors.New("meshdist: closed")

// maxHandshakes bounds the handshakes accepted at once, so that a flood of
// connections that never speak costs at most this many goroutines (each
// gives up after DialTimeout).
const maxHandshakes = 64

// The lifecycle of a Dist.
const (
	running = iota
	leaving // Leave was called: goodbyes are being sent
	stopped // Close was called, or Leave is finishing
)

// Dist is a gencluster.Dist and gencluster.EventSource over a full mesh of
// TCP connections. Create it with New and stop it with Leave (graceful)
// or Close (abrupt): the Node given it with gencluster.WithDist does not
// stop it. Its methods are safe for concurrent use.
type Dist struct {
	cfg        Config
	addr       string // advertised: where peers dial this node
	ln         net.Listener
	logger     *slog.Logger
	ctx        context.Context // ends when the Dist stops
	cancel     context.CancelFunc
	wg         sync.WaitGroup // every goroutine the Dist started
	handshakes chan struct{}  // a slot per accepted handshake in progress

	mu      sync.Mutex
	state   int
	tab     table
	conns   map[connID]*conn // established connections
	nextID  connID
	dialing map[string]chan struct{} // addresses being dialed for a hint: closed when done
	notify  func(gencluster.Event)

	// emitMu keeps events in the order the table produced them while
	// they are published outside mu, so that mu is never held while the
	// receiver runs. The receiver must not call back into the Dist (it
	// never blocks, as gencluster.EventSource requires).
	emitMu sync.Mutex

	stopOnce sync.Once
}

// New validates cfg, listens on cfg.Addr and starts accepting peers. The
// Dist is a cluster of one until Connect joins another node (or another
// node connects to it).
func New(cfg Config) (*Dist, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("meshdist: listen on %s: %w", cfg.Addr, err)
	}
	adv := cfg.AdvertiseAddr
	if adv == "" {
		adv = ln.Addr().String()
		if err := checkAddr(adv, false); err != nil {
			ln.Close()
			return nil, fmt.Errorf("meshdist: Addr %s: peers cannot dial it, give AdvertiseAddr: %w", cfg.Addr, err)
		}
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		ln.Close()
		return nil, fmt.Errorf("meshdist: boot id: %w", err)
	}
	boot := gencluster.BootID(binary.BigEndian.Uint64(b[:]) | 1) // never 0, which means unknown
	self := gencluster.Member{Name: cfg.Name, Addr: adv, Meta: cfg.Meta, State: gencluster.StateAlive, Boot: boot}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dist{
		cfg: cfg, addr: adv, ln: ln, ctx: ctx, cancel: cancel,
		logger:     cfg.Logger.With("node", cfg.Name),
		handshakes: make(chan struct{}, maxHandshakes),
		tab:        newTable(self),
		conns:      map[connID]*conn{},
		dialing:    map[string]chan struct{}{},
	}
	d.wg.Add(1)
	go d.acceptLoop()
	return d, nil
}

// Addr returns the address peers dial to reach this node.
func (d *Dist) Addr() string { return d.addr }

// LocalMember returns this node as a Member, with its current metadata
// and boot id.
func (d *Dist) LocalMember() gencluster.Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tab.self.Clone()
}

// Members returns the live members, this node included, sorted by name.
// A stopped Dist returns none.
func (d *Dist) Members() []gencluster.Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == stopped {
		return nil
	}
	return d.tab.members()
}

// NodeOptions returns the options that give a gencluster Node this Dist:
// WithName and WithAdvertiseAddr (so that the Node's name and address are
// the Dist's), and WithDist.
func (d *Dist) NodeOptions() []gencluster.Option {
	return []gencluster.Option{
		gencluster.WithName(d.cfg.Name),
		gencluster.WithAdvertiseAddr(d.Addr()),
		gencluster.WithDist(d),
	}
}

// Notify sets the function that receives every membership change
// (gencluster.EventSource), replacing any earlier one. It first replays
// the current members to f as joins, this node first, so that f's view
// starts complete: changes before Notify are not lost. f is called in
// order, one event at a time, and must neither block nor call back into the Dist.
func (d *Dist) Notify(f func(gencluster.Event)) {
	d.mu.Lock()
	d.notify = f
	evs := []gencluster.Event{{Type: gencluster.EventJoin, Member: d.tab.self.Clone()}}
	for _, m := range d.tab.members() {
		if m.Name != d.tab.self.Name {
			evs = append(evs, gencluster.Event{Type: gencluster.EventJoin, Member: m})
		}
	}
	d.emitLocked(evs)
}

// UpdateMeta replaces this node's metadata and sends it to every peer,
// which report an EventUpdate (it is a gencluster.MetaUpdater: the Node's
// UpdateMeta calls it). The rules of Config.Meta apply. The frames are
// queued on each connection, so it does not wait for the peers; a ctx that
// has already ended changes nothing.
func (d *Dist) UpdateMeta(ctx context.Context, meta map[string]string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("meshdist: UpdateMeta: %w", err)
	}
	if err := checkMeta(meta); err != nil {
		return fmt.Errorf("meshdist: UpdateMeta: %w", err)
	}
	d.mu.Lock()
	if d.state != running {
		d.mu.Unlock()
		return fmt.Errorf("meshdist: UpdateMeta: %w", ErrClosed)
	}
	ver := d.tab.setSelfMeta(meta)
	for _, c := range d.conns {
		c.send(frameUpdate, update{Meta: maps.Clone(meta), Ver: ver})
	}
	d.emitLocked([]gencluster.Event{{Type: gencluster.EventUpdate, Member: d.tab.self.Clone()}})
	return nil
}

// change applies f to the table under the lock and carries out its
// effects (apply).
func (d *Dist) change(f func(t *table) effects) {
	d.mu.Lock()
	d.apply(f(&d.tab))
}

// apply carries out a table change's effects and unlocks mu, which must be
// held: a peer is redialed, the events are published in order, and
// connections closed. A Dist that is stopping publishes nothing and dials
// nothing.
func (d *Dist) apply(eff effects) {
	var closing []*conn
	for _, id := range eff.close {
		if c, ok := d.conns[id]; ok {
			closing = append(closing, c)
		}
	}
	if d.state != running {
		eff.events, eff.redial = nil, nil
	}
	if r := eff.redial; r != nil {
		d.goDial(hint{Name: r.Name, Addr: r.Addr}, true, func(err error) {
			d.logger.Info("peer failed: its connection closed and it cannot be dialed again", "peer", r.Name, "addr", r.Addr, "err", err)
			d.change(func(t *table) effects { return t.redialFailed(r.Name, r.Boot) })
		})
	}
	d.emitLocked(eff.events)
	for _, c := range closing {
		c.close(errSuperseded)
	}
}

// emitLocked publishes evs in order and unlocks mu, which must be held:
// emitMu is taken before mu is released, so that events of two changes
// never swap.
func (d *Dist) emitLocked(evs []gencluster.Event) {
	notify := d.notify
	d.emitMu.Lock()
	d.mu.Unlock()
	defer d.emitMu.Unlock()
	if notify == nil {
		return
	}
	for _, ev := range evs {
		notify(ev)
	}
}

// connList returns the established connections. mu must be held.
func (d *Dist) connList() []*conn {
	out := make([]*conn, 0, len(d.conns))
	for _, c := range d.conns {
		out = append(out, c)
	}
	return out
}

// Leave leaves the cluster gracefully: it stops accepting peers, sends a
// goodbye on every connection (the peers report EventLeave), then stops
// like Close. It returns when the goodbyes are written, or with ctx's
// error when ctx ends first (the rest are dropped, and those peers will
// report a failure). Calls after the first return nil.
func (d *Dist) Leave(ctx context.Context) error {
	d.mu.Lock()
	if d.state != running {
		d.mu.Unlock()
		return nil
	}
	d.state = leaving
	conns := d.connList()
	d.mu.Unlock()
	d.ln.Close() // no new peers: a goodbye must be final
	var err error
	for _, c := range conns {
		if !c.sendFinal(ctx) {
			err = ctx.Err()
		}
	}
	for _, c := range conns {
		if err != nil {
			break
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	d.stop()
	if err != nil {
		return fmt.Errorf("meshdist: leave: goodbyes not all sent: %w", err)
	}
	d.logger.Info("left the cluster", "peers", len(conns))
	return nil
}

// Close stops the Dist abruptly: connections are dropped without a
// goodbye, so the peers report EventFail. It waits for every goroutine of
// the Dist to end. Calls after the first (or after Leave) return nil.
func (d *Dist) Close() error {
	d.stop()
	return nil
}

// stop closes the listener and every connection and waits for the
// goroutines. It runs once.
func (d *Dist) stop() {
	d.stopOnce.Do(func() {
		d.mu.Lock()
		d.state = stopped
		conns := d.connList()
		d.mu.Unlock()
		d.cancel()
		d.ln.Close()
		for _, c := range conns {
			c.close(errStopped)
		}
		d.wg.Wait()
	})
}
