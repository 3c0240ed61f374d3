package meshdist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gencluster/gencluster"
)

// The handshake, on a new connection, each step within DialTimeout:
//
//	dialer   -> hello (itself, the members it knows)
//	acceptor -> hello (itself, the members it knows) | refuse
//	dialer   -> ack | refuse
//	acceptor -> ack | refuse
//
// The acceptor registers the dialer when it reads the dialer's ack, the
// dialer the acceptor when it reads the acceptor's: when Connect returns,
// both sides count each other. Each then connects to the members the
// other knew and it did not, and the acceptor announces a new member to
// the peers it already had, so that they connect to it too: the mesh
// closes.

// Connect joins the cluster of the node at addr: it dials addr, shakes
// hands, then connects to every member that node knows and this one does
// not (and to the members those know, and so on), and returns once those
// dials are done or ctx ends. An address that is already a live member's
// is not dialed again. A refused handshake returns an error with the
// peer's reason; a name held by a live member is errors.Is(err,
// gencluster.ErrNameConflict), and the error names the holder.
func (d *Dist) Connect(ctx context.Context, addr string) error {
	if err := checkAddr(addr, false); err != nil {
		return fmt.Errorf("meshdist: connect: %w", err)
	}
	d.mu.Lock()
	state, live := d.state, d.tab.addrLive(addr)
	d.mu.Unlock()
	if state != running {
		return fmt.Errorf("meshdist: connect %s: %w", addr, ErrClosed)
	}
	if live {
		return nil
	}
	h, err := d.dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("meshdist: connect %s: %w", addr, err)
	}
	// Once joined, the rest of the mesh completes in the background if
	// ctx ends first.
	waitAll(ctx, d.dialHints(h.Peers))
	return nil
}

// dialHints connects, in the background, to the hinted members this node
// does not know, and returns channels closed when each dial is done
// (with the dials of the members it learned of).
func (d *Dist) dialHints(hs []hint) []<-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	var waits []<-chan struct{}
	for _, h := range hs {
		if w := d.goDial(h, false, nil); w != nil {
			waits = append(waits, w)
		}
	}
	return waits
}

func waitAll(ctx context.Context, waits []<-chan struct{}) {
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
}

// goDial dials h in a goroutine of the Dist, unless the Dist is stopping,
// then the members h knows and this node does not. A hint is not dialed
// when h is known, nor when its address is being dialed already (the
// channel of that dial is returned); a redial (of a member whose last
// connection closed) always is, since only its outcome decides whether
// that member failed. onFail, if set, is called with the
// error of a failed dial, or of one that reached another node than
// h.Name. It returns a channel closed when the dials are done, or nil when
// there are none. mu must be held.
func (d *Dist) goDial(h hint, redial bool, onFail func(error)) <-chan struct{} {
	if d.state != running || (!redial && d.tab.knows(h)) {
		return nil
	}
	if w, ok := d.dialing[h.Addr]; ok && !redial {
		return w
	}
	done := make(chan struct{})
	if !redial {
		d.dialing[h.Addr] = done
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(done)
		got, err := d.dial(d.ctx, h.Addr)
		if !redial {
			d.mu.Lock()
			delete(d.dialing, h.Addr)
			d.mu.Unlock()
		}
		if err == nil && got.Name != h.Name {
			err = fmt.Errorf("%s is now %q", h.Addr, got.Name)
		}
		if err != nil {
			d.logger.Debug("dial failed", "peer", h.Name, "addr", h.Addr, "err", err)
			if onFail != nil {
				onFail(err)
			}
		}
		if err == nil {
			waitAll(d.ctx, d.dialHints(got.Peers))
		}
	}()
	return done
}

// dial dials addr and shakes hands as the dialer. It returns the
// acceptor's hello (also with an error, once the hello was read).
func (d *Dist) dial(ctx context.Context, addr string) (*hello, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	defer cancel()
	stopWithDist := context.AfterFunc(d.ctx, cancel)
	defer stopWithDist()
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// Until it is established, the connection ends with ctx.
	unwatch := context.AfterFunc(ctx, func() { nc.Close() })
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	h, err := d.shakeAsDialer(nc)
	if !unwatch() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return h, err
	}
	nc.SetDeadline(time.Time{})
	d.establish(nc, h, false)
	return h, nil
}

// shakeAsDialer runs the dialer's side of the handshake and returns the
// acceptor's hello (also with an error, when the hello was read).
func (d *Dist) shakeAsDialer(nc net.Conn) (*hello, error) {
	d.mu.Lock()
	self := d.hello("")
	d.mu.Unlock()
	if err := writeFrame(nc, frameHello, self, d.cfg.MaxFrameSize); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	typ, payload, err := readFrame(nc, d.cfg.MaxFrameSize)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	switch typ {
	case frameRefuse:
		return nil, refused(payload)
	case frameHello:
	default:
		return nil, protocolErr("handshake: got a %s frame, want hello or refuse", frameNames[typ])
	}
	h := new(hello)
	if err := decode(typ, payload, h); err != nil {
		writeFrame(nc, frameRefuse, refuse{Reason: err.Error()}, d.cfg.MaxFrameSize)
		return nil, err
	}
	d.mu.Lock()
	err = d.admitLocked(h.member())
	d.mu.Unlock()
	if err != nil {
		writeFrame(nc, frameRefuse, refusal(err), d.cfg.MaxFrameSize)
		return h, err
	}
	if err := writeFrame(nc, frameAck, nil, d.cfg.MaxFrameSize); err != nil {
		return h, fmt.Errorf("handshake: %w", err)
	}
	if err := readAck(nc, d.cfg.MaxFrameSize); err != nil {
		return h, fmt.Errorf("handshake: %w", err)
	}
	return h, nil
}

// readAck reads the other side's last word in the handshake: an ack, or a
// refuse with its reason.
func readAck(nc net.Conn, limit int) error {
	typ, payload, err := readFrame(nc, limit)
	if err != nil {
		return err
	}
	switch typ {
	case frameAck:
		return expectEmpty(typ, payload)
	case frameRefuse:
		return refused(payload)
	}
	return protocolErr("got a %s frame, want ack or refuse", frameNames[typ])
}

// refused turns a refuse frame's payload into the error it reports: a
// name conflict is gencluster.ErrNameConflict.
func refused(payload []byte) error {
	var r refuse
	if err := decode(frameRefuse, payload, &r); err != nil {
		return err
	}
	if r.Conflict {
		return fmt.Errorf("refused: %w", &conflictError{r.Reason})
	}
	return fmt.Errorf("refused: %s", r.Reason)
}

// acceptLoop accepts connections until the listener closes, each shaken
// hands with in a goroutine of its own, at most maxHandshakes at once.
func (d *Dist) acceptLoop() {
	defer d.wg.Done()
	for {
		nc, err := d.ln.Accept()
		if err != nil {
			if d.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				d.logger.Error("accept failed; no more peers can connect to this node", "err", err)
			}
			return
		}
		select {
		case d.handshakes <- struct{}{}:
		default:
			d.logger.Warn("refusing a connection: too many handshakes in progress", "addr", nc.RemoteAddr().String(), "limit", maxHandshakes)
			nc.Close()
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() { <-d.handshakes }()
			d.accept(nc)
		}()
	}
}

// accept shakes hands as the acceptor, within DialTimeout, and
// establishes the connection; a refusal or a broken handshake is logged
// with its reason.
func (d *Dist) accept(nc net.Conn) {
	unwatch := context.AfterFunc(d.ctx, func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(d.cfg.DialTimeout))
	h, err := d.shakeAsAcceptor(nc)
	if !unwatch() && err == nil {
		err = ErrClosed
	}
	if err != nil {
		nc.Close()
		attrs := []any{"addr", nc.RemoteAddr().String(), "err", err}
		if h != nil {
			attrs = append(attrs, "peer", h.Name)
		}
		switch {
		case errors.Is(err, errProtocol):
			d.logger.Warn("handshake failed: the peer broke the protocol", attrs...)
		case errors.Is(err, gencluster.ErrNameConflict):
			d.logger.Warn("handshake refused", attrs...)
		default:
			d.logger.Debug("handshake failed", attrs...)
		}
		return
	}
	nc.SetDeadline(time.Time{})
	d.establish(nc, h, true)
	d.dialHints(h.Peers) // two clusters merging: connect to the other's members
}

// shakeAsAcceptor runs the acceptor's side of the handshake, up to the
// dialer's ack, and returns the dialer's hello (also with an error, when
// the hello was read).
func (d *Dist) shakeAsAcceptor(nc net.Conn) (*hello, error) {
	typ, payload, err := readFrame(nc, d.cfg.MaxFrameSize)
	if err != nil {
		return nil, err
	}
	if typ != frameHello {
		return nil, protocolErr("got a %s frame, want hello", frameNames[typ])
	}
	h := new(hello)
	if err := decode(typ, payload, h); err != nil {
		writeFrame(nc, frameRefuse, refuse{Reason: err.Error()}, d.cfg.MaxFrameSize)
		return nil, err
	}
	d.mu.Lock()
	err = d.admitLocked(h.member())
	reply := d.hello(h.Name)
	d.mu.Unlock()
	if err != nil {
		writeFrame(nc, frameRefuse, refusal(err), d.cfg.MaxFrameSize)
		return h, err
	}
	if err := writeFrame(nc, frameHello, reply, d.cfg.MaxFrameSize); err != nil {
		return h, err
	}
	return h, readAck(nc, d.cfg.MaxFrameSize)
}

// establish registers a connection whose handshake completed and starts
// its goroutines. On the acceptor's side, its first frame is the ack that
// completes the handshake, and a new member is announced to the other
// peers. A Dist that stopped meanwhile, or a conflict that arose, refuses
// the connection instead.
func (d *Dist) establish(nc net.Conn, h *hello, accepted bool) {
	m := h.member()
	d.mu.Lock()
	if err := d.admitLocked(m); err != nil {
		d.mu.Unlock()
		if accepted {
			writeFrame(nc, frameRefuse, refusal(err), d.cfg.MaxFrameSize)
		}
		nc.Close()
		d.logger.Info("connection dropped at the end of its handshake", "peer", m.Name, "addr", m.Addr, "err", err)
		return
	}
	// Registered and started in one critical section: the reader's first
	// change (a goodbye, a close) must find the connection registered.
	d.nextID++
	c := newConn(d.nextID, nc, m)
	if accepted {
		c.first = frameAck
	}
	d.conns[c.id] = c
	eff := d.tab.register(m, h.MetaVer, c.id)
	if accepted && joined(eff) {
		for _, o := range d.conns {
			if o.peer.Name != m.Name {
				o.send(framePeers, peersMsg{Peers: []hint{{Name: m.Name, Addr: m.Addr}}})
			}
		}
	}
	d.start(c)
	d.apply(eff)
}

// joined reports whether a registration made a new member.
func joined(eff effects) bool {
	n := len(eff.events)
	return n > 0 && eff.events[n-1].Type == gencluster.EventJoin
}

// admitLocked refuses handshakes once the Dist is stopping, and names
// that conflict. mu must be held.
func (d *Dist) admitLocked(m gencluster.Member) error {
	if d.state != running {
		return errors.New("the node is leaving")
	}
	return d.tab.admit(m)
}

// hello is this node's handshake, with the members other than skip. mu
// must be held.
func (d *Dist) hello(skip string) hello {
	self := d.tab.self
	return hello{Version: protocolVersion, Name: self.Name, Addr: self.Addr, Meta: self.Meta, Boot: uint64(self.Boot), MetaVer: d.tab.selfVer, Peers: d.tab.hints(skip)}
}

func (h *hello) member() gencluster.Member {
	return gencluster.Member{Name: h.Name, Addr: h.Addr, Meta: h.Meta, State: gencluster.StateAlive, Boot: gencluster.BootID(h.Boot)}
}

func refusal(err error) refuse {
	return refuse{Reason: err.Error(), Conflict: errors.Is(err, gencluster.ErrNameConflict)}
}
