package meshdist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxHintDials bounds the dials of hinted members under way at once, so
// that a peer's hints (or a hostile peer's) cost a bounded number of
// goroutines. A member not dialed for it is dialed when a later hint
// names it, or it dials this node.
const maxHintDials = 64

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
	if !redial && len(d.dialing) >= maxHintDials {
		d.logger.Warn("not dialing a hinted member: too many dials under way", "peer", h.Name, "addr", h.Addr, "limit", maxHintDials)
		return nil
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
