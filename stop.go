package gencluster

import (
	"context"
	"fmt"
	"io"
)

// stop stops the node once and returns the first result of Leave or
// Close. The stop itself runs in a goroutine the node owns (finish), so
// that a caller's ctx can end the wait, as http.Server.Shutdown's does;
// Done is closed when it has finished. The node's context is cancelled
// first, synchronously: from then on the node's methods return
// ErrStopped, Members is empty and the event streams close.
func (n *Node) stop(ctx context.Context, op string, shutdown func() error) error {
	n.stopOnce.Do(func() {
		n.cancel()
		go n.finish(shutdown)
	})
	select {
	case <-n.done: // done first, even when ctx has ended too
	default:
		select {
		case <-n.done:
		case <-ctx.Done():
			return n.firstResult(fmt.Errorf("gencluster: %s: %w", op, ctx.Err()))
		}
	}
	return n.firstResult(n.stopErr)
}

// finish runs the stop: shutdown leaves or closes the Dist (nil: close),
// then the hub and every goroutine of the node end, the metrics are
// unregistered, and done is closed.
func (n *Node) finish(shutdown func() error) {
	if shutdown == nil {
		shutdown = n.closeDist
	}
	err := shutdown()
	n.hub.Close()
	n.wg.Wait()
	n.met.unregister()
	n.logger.Info("stopped")
	n.stopErr = err // read after done is closed
	close(n.done)
}

// firstResult records err as the result of Leave and Close unless one was
// recorded already, and returns the recorded one.
func (n *Node) firstResult(err error) error {
	n.resultMu.Lock()
	defer n.resultMu.Unlock()
	if n.result == nil {
		n.result = &err
	}
	return *n.result
}

// closeDist closes the Dist if it is an io.Closer; any other Dist has
// nothing to close (see Leaver). Before a Dist was adopted (Start failed
// first) there is none.
func (n *Node) closeDist() error {
	if c, ok := n.dist.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
