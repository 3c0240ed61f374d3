package gossip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/keyproto"
)

// The cluster-wide key operations: package keyproto is the protocol (the
// wire format, the checks, the coordinator's rules and ledger); this file
// is its glue to memberlist. Messages travel as memberlist user messages
// sent with SendReliable (TCP, encrypted by memberlist), NotifyMsg routes
// those that start with msgKeyOp here, and the changes are made to
// memberlist's keyring (keyring.go).

// msgKeyOp is the first byte of a key operation user message.
const msgKeyOp = keyproto.Prefix

// keyOps is the Gossip's keyproto.Host and its Endpoint.
type keyOps struct {
	*keyproto.Endpoint
	g       *Gossip // set by start
	del     *delegate
	pending [][]byte // migration keys, not yet in the keyring (guarded by g.keyMu)
}

func newKeyOps(del *delegate, logger *slog.Logger, pending [][]byte) *keyOps {
	k := &keyOps{del: del, pending: cloneKeys(pending)}
	k.Endpoint = keyproto.New(k, keyproto.Config{Logger: logger, Stopped: ErrStopped})
	return k
}

// notify is called by NotifyMsg, on memberlist's goroutines; it never
// blocks.
func (k *keyOps) notify(b []byte) { k.Notify(b) }

// start runs the Endpoint for g; stop ends it.
func (k *keyOps) start(g *Gossip) {
	k.g = g
	k.Start()
}

func (k *keyOps) stop() { k.Stop() }

// ClusterKeyOp runs op on every live member, this node included, and
// returns one reply per member, this node first, then by name (see
// keyproto.Endpoint.Do).
func (g *Gossip) ClusterKeyOp(ctx context.Context, op keyproto.Op, key []byte) ([]keyproto.Reply, error) {
	return g.kops.Do(ctx, op, key)
}

// Behind returns the members that missed a key operation this node
// coordinated and have not acknowledged it since, with how many each
// missed.
func (g *Gossip) Behind() map[string]int { return g.kops.Behind() }

// Self is this node.
func (k *keyOps) Self() keyproto.Peer { return keyproto.Peer{Name: k.g.name, Addr: k.g.addr} }

// Peer returns the live member called name in this node's view.
func (k *keyOps) Peer(name string) (keyproto.Peer, bool) {
	m, ok := k.del.lookup(name)
	return keyproto.Peer{Name: m.Name, Addr: m.Addr}, ok
}

// Peers returns the live members other than this node.
func (k *keyOps) Peers() []keyproto.Peer {
	var out []keyproto.Peer
	for _, m := range k.del.members() {
		if m.Name != k.g.name {
			out = append(out, keyproto.Peer{Name: m.Name, Addr: m.Addr})
		}
	}
	return out
}

// Send sends b to the member over memberlist's reliable channel.
func (k *keyOps) Send(to keyproto.Peer, b []byte) error { return k.g.sendReliable(to.Name, to.Addr, b) }

// sendReliable sends b to the member called name at addr (host:port)
// over memberlist's reliable channel: one TCP stream, encrypted and
// labelled as the gossip is, its dial bounded by TCPTimeout and ended
// when the Gossip shuts down (transport.go). The key operations and the
// drain protocol send their messages with it.
func (g *Gossip) sendReliable(name, addr string, b []byte) error {
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return fmt.Errorf("address %q of %s is not host:port", addr, name)
	}
	return g.ml.SendReliable(&memberlist.Node{Name: name, Addr: net.ParseIP(host), Port: uint16(p)}, b)
}

// Keys returns copies of the keyring's keys and of the pending ones.
func (k *keyOps) Keys() (ring, pending [][]byte) {
	k.g.keyMu.Lock()
	defer k.g.keyMu.Unlock()
	return k.g.keys(), cloneKeys(k.pending)
}

// Apply changes memberlist's keyring.
func (k *keyOps) Apply(op keyproto.Op, key []byte) error {
	switch op {
	case keyproto.Install:
		return k.g.installKey(key)
	case keyproto.Use:
		return k.g.useKey(key)
	case keyproto.Remove:
		return k.g.removeKey(key)
	case keyproto.EncryptCommit:
		return k.g.enableEncryption(k)
	}
	return fmt.Errorf("unknown key operation %d", op)
}
