package meshdist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gencluster/gencluster"
)

// Why this node closed a connection itself: these are not worth more than
// a debug record.
var (
	errSuperseded = errors.New("closed by this node: the peer left, failed, restarted or has a newer connection")
	errStopped    = errors.New("closed by this node: it stopped")
	errLeft       = errors.New("closed by this node after its goodbye")
	errGoodbye    = errors.New("the peer said goodbye")
)

// sendQueue bounds the frames waiting for one connection's writer. A peer
// that lets it fill up (it reads too slowly) has its connection closed.
const sendQueue = 64

// conn is one established connection to a peer. Two goroutines serve it:
// readLoop, which owns its teardown, and writeLoop, which sends the queued
// frames and a heartbeat every interval.
type conn struct {
	id    connID
	nc    net.Conn
	peer  gencluster.Member // as its handshake said
	out   chan frame
	first byte          // a frame type the writer sends before anything else, or 0
	done  chan struct{} // closed by close

	once sync.Once
	why  error // the first reason it was closed; read after done
}

type frame struct {
	typ byte
	v   any
}

func newConn(id connID, nc net.Conn, peer gencluster.Member) *conn {
	return &conn{id: id, nc: nc, peer: peer, out: make(chan frame, sendQueue), done: make(chan struct{})}
}

// close closes the connection, remembering the first reason.
func (c *conn) close(why error) {
	c.once.Do(func() {
		c.why = why
		c.nc.Close()
		close(c.done)
	})
}

// send queues a frame without blocking. A full queue closes the
// connection: the peer is not keeping up.
func (c *conn) send(typ byte, v any) {
	select {
	case c.out <- frame{typ, v}:
	case <-c.done:
	default:
		c.close(fmt.Errorf("%d frames queued: the peer reads too slowly", sendQueue))
	}
}

// sendFinal queues the goodbye, after which the writer closes the
// connection. It waits for room until ctx ends, and reports whether the
// goodbye was queued (or the connection had closed anyway).
func (c *conn) sendFinal(ctx context.Context) bool {
	select {
	case c.out <- frame{typ: frameGoodbye}:
		return true
	case <-c.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// start runs the connection's two goroutines. mu must be held (the
// WaitGroup is added to only while the Dist runs, see goDial).
func (d *Dist) start(c *conn) {
	d.wg.Add(2)
	go d.readLoop(c)
	go d.writeLoop(c)
}

// readLoop reads frames until the connection fails, is silent for
// MissedHeartbeats intervals, breaks the protocol or is closed; then it
// tears the connection down and tells the table.
func (d *Dist) readLoop(c *conn) {
	defer d.wg.Done()
	var err error
	for err == nil {
		c.nc.SetReadDeadline(time.Now().Add(d.cfg.silence()))
		var typ byte
		var payload []byte
		if typ, payload, err = readFrame(c.nc, d.cfg.MaxFrameSize); err == nil {
			err = d.handle(c, typ, payload)
		}
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		err = fmt.Errorf("silent for %v (%d heartbeats missed)", d.cfg.silence(), d.cfg.MissedHeartbeats)
	}
	c.close(err)
	d.logClosed(c)
	d.change(func(t *table) effects {
		delete(d.conns, c.id)
		return t.down(c.peer.Name, c.id)
	})
}

// handle acts on one frame from an established connection. An error ends
// the connection.
func (d *Dist) handle(c *conn, typ byte, payload []byte) error {
	switch typ {
	case frameHeartbeat:
		return expectEmpty(typ, payload)
	case frameUpdate:
		var u update
		if err := decode(typ, payload, &u); err != nil {
			return err
		}
		d.change(func(t *table) effects { return t.update(c.peer.Name, c.id, u.Meta, u.Ver) })
	case framePeers:
		var p peersMsg
		if err := decode(typ, payload, &p); err != nil {
			return err
		}
		d.dialHints(p.Peers)
	case frameGoodbye:
		if err := expectEmpty(typ, payload); err != nil {
			return err
		}
		d.change(func(t *table) effects { return t.goodbye(c.peer.Name, c.id) })
		return errGoodbye
	case frameRefuse: // the acceptor changed its mind after our ack
		var r refuse
		if err := decode(typ, payload, &r); err != nil {
			return err
		}
		return fmt.Errorf("refused by the peer: %s", r.Reason)
	default:
		return protocolErr("unexpected %s frame after the handshake", frameNames[typ])
	}
	return nil
}

// logClosed logs why a connection closed: at warning level when the peer
// broke the protocol, at debug level when this node closed it or the peer
// said goodbye or this node is stopping, at info level otherwise (the
// peer vanished).
func (d *Dist) logClosed(c *conn) {
	<-c.done
	why := c.why
	attrs := []any{"peer", c.peer.Name, "addr", c.peer.Addr, "err", why}
	d.mu.Lock()
	stopping := d.state != running
	d.mu.Unlock()
	switch {
	case errors.Is(why, errProtocol):
		d.logger.Warn("closing connection: the peer broke the protocol", attrs...)
	case stopping, errors.Is(why, errSuperseded), errors.Is(why, errStopped), errors.Is(why, errLeft), errors.Is(why, errGoodbye):
		d.logger.Debug("connection closed", attrs...)
	case errors.Is(why, io.EOF), errors.Is(why, net.ErrClosed):
		d.logger.Info("connection closed by the peer", attrs...)
	default:
		d.logger.Info("connection lost", attrs...)
	}
}

// writeLoop writes the queued frames and a heartbeat every interval, each
// within the silence a reader tolerates. After a goodbye it closes the
// connection.
func (d *Dist) writeLoop(c *conn) {
	defer d.wg.Done()
	tick := time.NewTicker(d.cfg.Interval)
	defer tick.Stop()
	f := frame{typ: c.first}
	for {
		if f.typ == 0 {
			select {
			case <-c.done:
				return
			case <-tick.C:
				f = frame{typ: frameHeartbeat}
			case f = <-c.out:
			}
		}
		c.nc.SetWriteDeadline(time.Now().Add(d.cfg.silence()))
		if err := writeFrame(c.nc, f.typ, f.v, d.cfg.MaxFrameSize); err != nil {
			c.close(fmt.Errorf("write %s: %w", frameNames[f.typ], err))
			return
		}
		if f.typ == frameGoodbye {
			// Half-close: the reader drains until the peer, having read
			// the goodbye, closes its side. Closing outright could reset
			// the connection (unread heartbeats in our buffer) and make
			// the peer's kernel drop the goodbye before it is read.
			if hc, ok := c.nc.(interface{ CloseWrite() error }); ok && hc.CloseWrite() == nil {
				return
			}
			c.close(errLeft)
			return
		}
		f = frame{}
	}
}
