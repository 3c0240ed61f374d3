package gossip

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/membership"
)

// Cluster-wide key operations: one node (the coordinator) asks every live
// member to install, use or remove a key, or to list its keys, and
// collects one reply per member. Requests and replies are memberlist user
// messages sent with SendReliable (TCP, encrypted by memberlist), sealed
// once more with a key of the keyring (keyops_codec.go).
//
// A request is accepted only when it
//   - opens with a key of this node's keyring (only key holders can ask),
//   - names as its sender a live member of this node's view (the reply goes
//     to the address this node knows for that member, not to one the
//     message carries),
//   - was made within KeyOpWindow of this node's clock, and
//   - carries a request ID this node has not seen in that window (replay).
//
// The coordinator's safety rules (keyops_cluster.go) keep the cluster able
// to talk: Use only when every live member reports having the key, Remove
// only when no live member uses the key as its primary.

// KeyOpWindow is how far a key request's time may be from the receiver's
// clock: requests outside it are dropped, and request IDs are remembered
// for twice as long, so that a recorded request cannot be replayed.
const KeyOpWindow = time.Minute

// maxSeen bounds the replay cache; when it is full of live entries, new
// requests are dropped (fail closed) until entries expire.
const maxSeen = 4096

// keyOps is the Gossip's key operation endpoint: a worker goroutine that
// handles the messages NotifyMsg queues, the calls in flight, the replay
// cache and the catch-up ledger.
type keyOps struct {
	g      *Gossip
	del    *delegate
	logger *slog.Logger
	now    func() time.Time
	send   func(to membership.Member, b []byte) error
	retry  time.Duration // catch-up ledger period

	inbox  chan []byte
	sem    chan struct{} // one coordinated operation at a time
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the worker, sends and catch-up passes

	mu      sync.Mutex
	calls   map[[16]byte]*call
	seen    map[[16]byte]time.Time // request ID -> forget after
	pending [][]byte               // migration keys, not yet in the keyring (guarded by g.keyMu)
	ledger  ledger
}

func newKeyOps(del *delegate, logger *slog.Logger, pending [][]byte) *keyOps {
	ctx, cancel := context.WithCancel(context.Background())
	return &keyOps{
		del: del, logger: logger, now: time.Now, retry: time.Second,
		inbox: make(chan []byte, 64), sem: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel,
		calls: make(map[[16]byte]*call), seen: make(map[[16]byte]time.Time),
		pending: cloneKeys(pending),
	}
}

// start runs the worker for g.
func (k *keyOps) start(g *Gossip) {
	k.g = g
	if k.send == nil {
		k.send = func(to membership.Member, b []byte) error {
			host, port, err := net.SplitHostPort(to.Addr)
			p, perr := strconv.Atoi(port)
			if err != nil || perr != nil {
				return fmt.Errorf("address %q of %s is not host:port", to.Addr, to.Name)
			}
			return g.ml.SendReliable(&memberlist.Node{Name: to.Name, Addr: net.ParseIP(host), Port: uint16(p)}, b)
		}
	}
	k.wg.Add(1)
	go k.run()
}

// stop ends the worker and waits for every goroutine of the endpoint.
func (k *keyOps) stop() {
	k.cancel()
	k.wg.Wait()
}

// notify is called by NotifyMsg, on memberlist's goroutines: copy, queue,
// return. A full queue drops the message (the asker sees a timeout).
func (k *keyOps) notify(b []byte) {
	select {
	case k.inbox <- append([]byte(nil), b...):
	default:
		k.logger.Warn("key operation queue full: message dropped")
	}
}

func (k *keyOps) run() {
	defer k.wg.Done()
	t := time.NewTicker(k.retry)
	defer t.Stop()
	retrying := make(chan struct{}, 1)
	for {
		select {
		case <-k.ctx.Done():
			return
		case b := <-k.inbox:
			k.handle(b)
		case <-t.C:
			if k.ledger.empty(&k.mu) {
				continue
			}
			select {
			case retrying <- struct{}{}:
				k.wg.Add(1)
				go func() {
					defer k.wg.Done()
					defer func() { <-retrying }()
					k.catchUp()
				}()
			default: // a pass is still running
			}
		}
	}
}

// openKeys are the keys a message may be sealed with: the keyring's and
// the pending ones.
func (k *keyOps) openKeys() [][]byte {
	k.g.keyMu.Lock()
	defer k.g.keyMu.Unlock()
	keys := cloneKeys(k.pending)
	if k.g.keyring != nil {
		keys = append(cloneKeys(k.g.keyring.GetKeys()), keys...)
	}
	return keys
}

// localKeys returns what this node encrypts with (primary first) and
// whether those keys are only pending (plaintext on the wire).
func (k *keyOps) localKeys() (keys [][]byte, plaintext bool) {
	k.g.keyMu.Lock()
	defer k.g.keyMu.Unlock()
	if k.g.keyring != nil {
		if ks := k.g.keyring.GetKeys(); len(ks) > 0 {
			return cloneKeys(ks), false
		}
	}
	return cloneKeys(k.pending), len(k.pending) > 0
}

// handle processes one queued message, on the worker.
func (k *keyOps) handle(b []byte) {
	plain, err := open(k.openKeys(), b)
	if err != nil {
		k.logger.Debug("key operation message dropped", "err", err)
		return
	}
	m, err := decodeKeyMsg(plain)
	if err != nil {
		k.logger.Warn("key operation message dropped", "err", err)
		return
	}
	from, ok := k.member(m.from)
	if !ok || m.from == k.g.name {
		k.logger.Warn("key operation message from a non-member dropped", "peer", m.from, "op", m.op.String())
		return
	}
	now := k.now()
	if skew := now.Sub(time.Unix(0, m.time)); skew > KeyOpWindow || skew < -KeyOpWindow {
		k.logger.Warn("key operation message outside the time window dropped (replayed, or clocks apart)", "peer", m.from, "op", m.op.String(), "skew", skew)
		return
	}
	if m.kind == kindResponse {
		k.onResponse(m, from)
		return
	}
	if !k.remember(m.id, now) {
		k.logger.Warn("replayed key operation request dropped", "peer", m.from, "op", m.op.String())
		return
	}
	resp := keyMsg{kind: kindResponse, op: m.op, id: m.id, from: k.g.name, status: respDone}
	if m.op == keyEncryptCommit {
		// Reply first, still in plaintext, then switch: the coordinator
		// switches last, and could not read a reply encrypted by this
		// node. The reply reports the keys this node is about to use.
		keys, _ := k.localKeys()
		k.send1(from, resp, keys, false)
		if err := k.apply(m.op, nil); err != nil {
			k.logger.Error("gossip encryption not turned on", "peer", m.from, "err", err)
		}
		return
	}
	if err := k.apply(m.op, m.key); err != nil {
		resp.status, resp.message = respRefused, truncate(err.Error(), maxMessageLen)
	}
	k.logger.Info("key operation applied", "peer", m.from, "op", m.op.String(), "ok", resp.status == respDone)
	k.reply(from, resp)
}

// send1 seals a response reporting keys and sends it now, on the worker.
func (k *keyOps) send1(to membership.Member, m keyMsg, keys [][]byte, plaintext bool) {
	for _, key := range keys {
		m.keys = append(m.keys, fingerprint(key))
	}
	m.plaintext, m.time = plaintext, k.now().UnixNano()
	b, err := k.sealMsg(m, keys)
	if err == nil {
		err = k.send(to, b)
	}
	if err != nil {
		k.logger.Warn("key operation reply not delivered", "peer", to.Name, "addr", to.Addr, "err", err)
	}
}

// member returns the live member called name in this node's view.
func (k *keyOps) member(name string) (membership.Member, bool) {
	return k.del.lookup(name)
}

// remember records a request ID; false if it was seen (a replay) or the
// cache is full of live entries.
func (k *keyOps) remember(id [16]byte, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, dup := k.seen[id]; dup {
		return false
	}
	if len(k.seen) >= maxSeen {
		for i, until := range k.seen {
			if now.After(until) {
				delete(k.seen, i)
			}
		}
		if len(k.seen) >= maxSeen {
			return false
		}
	}
	k.seen[id] = now.Add(2 * KeyOpWindow)
	return true
}

// apply runs an operation on this node's keyring.
func (k *keyOps) apply(op KeyOp, key []byte) error {
	switch op {
	case KeyList:
		return nil
	case KeyInstall:
		return k.g.InstallKey(key)
	case KeyUse:
		return k.g.UseKey(key)
	case KeyRemove:
		return k.g.RemoveKey(key)
	case KeyEncrypt:
		// Phase 1 only checks: a node that could open the request holds
		// keys, pending or in use; the coordinator compares the primary
		// fingerprints of the replies.
		if keys, _ := k.localKeys(); len(keys) == 0 {
			return errors.New("no keys: start the node with WithKeyringMigration")
		}
		return nil
	case keyEncryptCommit:
		return k.g.enableEncryption(k)
	}
	return fmt.Errorf("unknown key operation %d", op)
}

// reply seals and sends a response in a goroutine of the endpoint.
func (k *keyOps) reply(to membership.Member, m keyMsg) {
	keys, plain := k.localKeys()
	for _, key := range keys {
		m.keys = append(m.keys, fingerprint(key))
	}
	m.plaintext = plain
	m.time = k.now().UnixNano()
	b, err := k.sealMsg(m, keys)
	if err != nil {
		k.logger.Warn("key operation reply not sent", "peer", to.Name, "err", err)
		return
	}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		if err := k.send(to, b); err != nil {
			k.logger.Warn("key operation reply not delivered", "peer", to.Name, "addr", to.Addr, "err", err)
		}
	}()
}

// sealMsg encodes m and seals it with the first of keys (this node's
// primary or first pending key).
func (k *keyOps) sealMsg(m keyMsg, keys [][]byte) ([]byte, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeyring
	}
	body, err := encodeKeyMsg(m)
	if err != nil {
		return nil, err
	}
	return seal(keys[0], body)
}

func newID() ([16]byte, error) {
	var id [16]byte
	_, err := rand.Read(id[:])
	return id, err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// enableEncryption moves the pending migration keys into the keyring: from
// now on this node encrypts (GossipVerifyOutgoing is on) and still accepts
// plaintext (GossipVerifyIncoming is off until a restart with the key).
// It is a no-op when the keyring already has keys.
func (g *Gossip) enableEncryption(k *keyOps) error {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	if g.keyring == nil {
		return ErrNoKeyring
	}
	if len(g.keyring.GetKeys()) > 0 {
		return nil
	}
	if len(k.pending) == 0 {
		return errors.New("not migrating: no pending keys (WithKeyringMigration)")
	}
	for i, key := range k.pending {
		if i > 0 {
			fresh(g.keyring)
		}
		if err := g.keyring.AddKey(cloneKey(key)); err != nil {
			return err
		}
	}
	k.pending = nil
	g.logger.Info("gossip encryption turned on (migration)")
	return nil
}

func cloneKey(b []byte) []byte { return append([]byte(nil), b...) }
