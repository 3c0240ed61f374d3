package meshdist

import (
	"errors"
	"fmt"
	"net"

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
