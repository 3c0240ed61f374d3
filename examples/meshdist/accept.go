package meshdist

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/gencluster/gencluster"
)

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
