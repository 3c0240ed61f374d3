package keyproto

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Cluster-wide key operations: one node (the coordinator) asks every live
// member to install, use or remove a key, or to list its keys, and
// collects one reply per member (coordinator.go). Requests and replies
// travel over the host's reliable, encrypted channel (memberlist's TCP
// user messages), sealed once more with a key of the keyring (codec.go).
//
// A request is accepted only when it
//   - opens with a key this node holds (only key holders can ask),
//   - names as its sender a live member of this node's view (the reply goes
//     to the address this node knows for that member, not to one the
//     message carries),
//   - was made within Window of this node's clock, and
//   - carries a request ID this node has not seen in that window (replay).

// maxSeen bounds the replay cache; when it is full of live entries, new
// requests are dropped (fail closed) until entries expire.
const maxSeen = 4096

// Peer is a live member as the host knows it: the name a request names,
// and the address the reply goes to.
type Peer struct{ Name, Addr string }

// Host is what an Endpoint needs of the node it runs on. Its methods are
// called from the Endpoint's goroutines.
type Host interface {
	// Self is this node.
	Self() Peer
	// Peer returns the live member called name, if there is one.
	Peer(name string) (Peer, bool)
	// Peers returns the live members other than this node.
	Peers() []Peer
	// Send delivers b to the member reliably (or fails).
	Send(to Peer, b []byte) error
	// Keys returns copies of the keyring (primary first; empty while
	// encryption is off) and of the pending keys of a migration.
	Keys() (ring, pending [][]byte)
	// Apply changes the keyring: Install, Use, Remove, or EncryptCommit
	// (move the pending keys into the keyring).
	Apply(op Op, key []byte) error
}

// Config configures an Endpoint.
type Config struct {
	Logger *slog.Logger
	// Stopped is the error Do returns once the Endpoint stopped.
	Stopped error
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Endpoint is a node's side of the key operations: a worker goroutine that
// handles the messages Notify queues, the calls in flight, the replay
// cache and the catch-up ledger.
type Endpoint struct {
	host    Host
	logger  *slog.Logger
	now     func() time.Time
	stopped error

	inbox  chan []byte
	sem    chan struct{} // one coordinated operation at a time
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the worker, sends and catch-up passes

	mu     sync.Mutex
	calls  map[[16]byte]*call
	seen   map[[16]byte]time.Time // request ID -> forget after
	ledger map[string][]pendingOp // ledger.go
}

// New returns an Endpoint for host; Start runs it.
func New(host Host, cfg Config) *Endpoint {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{
		host: host, logger: cfg.Logger, now: cfg.Now, stopped: cfg.Stopped,
		inbox: make(chan []byte, 64), sem: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel,
		calls: make(map[[16]byte]*call), seen: make(map[[16]byte]time.Time),
		ledger: make(map[string][]pendingOp),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.stopped == nil {
		e.stopped = errors.New("key operations stopped")
	}
	return e
}

// Start runs the worker, until Stop.
func (e *Endpoint) Start() {
	e.wg.Add(1)
	go e.run()
}

// Stop ends the worker and waits for every goroutine of the Endpoint.
func (e *Endpoint) Stop() {
	e.cancel()
	e.wg.Wait()
}

// Notify queues a message that starts with Prefix. It copies b and never
// blocks: a full queue drops the message (the asker sees a timeout).
func (e *Endpoint) Notify(b []byte) {
	select {
	case e.inbox <- append([]byte(nil), b...):
	default:
		e.logger.Warn("key operation queue full: message dropped")
	}
}

func (e *Endpoint) run() {
	defer e.wg.Done()
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	retrying := make(chan struct{}, 1)
	for {
		select {
		case <-e.ctx.Done():
			return
		case b := <-e.inbox:
			e.handle(b)
		case <-t.C:
			if e.caughtUp() {
				continue
			}
			select {
			case retrying <- struct{}{}:
				e.wg.Add(1)
				go func() {
					defer e.wg.Done()
					defer func() { <-retrying }()
					e.catchUp()
				}()
			default: // a pass is still running
			}
		}
	}
}

// localKeys returns what this node seals with (primary first), whether
// those keys are only pending (plaintext on the wire), and every key it
// opens with.
func (e *Endpoint) localKeys() (keys [][]byte, plaintext bool, opening [][]byte) {
	ring, pending := e.host.Keys()
	opening = append(append([][]byte(nil), ring...), pending...)
	if len(ring) > 0 {
		return ring, false, opening
	}
	return pending, len(pending) > 0, opening
}

// handle processes one queued message, on the worker.
func (e *Endpoint) handle(b []byte) {
	_, _, keys := e.localKeys()
	plain, err := open(keys, b)
	if err != nil {
		e.logger.Debug("key operation message dropped", "err", err)
		return
	}
	m, err := decodeKeyMsg(plain)
	if err != nil {
		e.logger.Warn("key operation message dropped", "err", err)
		return
	}
	from, ok := e.host.Peer(m.from)
	if !ok || m.from == e.host.Self().Name {
		e.logger.Warn("key operation message from a non-member dropped", "peer", m.from, "op", m.op.String())
		return
	}
	now := e.now()
	if skew := now.Sub(time.Unix(0, m.time)); skew > Window || skew < -Window {
		e.logger.Warn("key operation message outside the time window dropped (replayed, or clocks apart)", "peer", m.from, "op", m.op.String(), "skew", skew)
		return
	}
	if m.kind == kindResponse {
		e.onResponse(m, from)
		return
	}
	if !e.remember(m.id, now) {
		e.logger.Warn("replayed key operation request dropped", "peer", m.from, "op", m.op.String())
		return
	}
	resp := keyMsg{kind: kindResponse, op: m.op, id: m.id, from: e.host.Self().Name, status: respDone}
	if m.op == EncryptCommit {
		// Reply first, still in plaintext, then switch: the coordinator
		// switches last, and could not read a reply encrypted by this
		// node. The reply reports the keys this node is about to use.
		keys, _, _ := e.localKeys()
		e.reply(from, resp, keys, false, false)
		if err := e.apply(m.op, nil); err != nil {
			e.logger.Error("gossip encryption not turned on", "peer", m.from, "err", err)
		}
		return
	}
	if err := e.apply(m.op, m.key); err != nil {
		resp.status, resp.message = respRefused, truncate(err.Error(), maxMessageLen)
	}
	e.logger.Info("key operation applied", "peer", m.from, "op", m.op.String(), "ok", resp.status == respDone)
	keys, plaintext, _ := e.localKeys()
	e.reply(from, resp, keys, plaintext, true)
}

// reply seals a response reporting keys and sends it: now, or in a
// goroutine of the Endpoint (the send may wait for a slow peer).
func (e *Endpoint) reply(to Peer, m keyMsg, keys [][]byte, plaintext, async bool) {
	for _, key := range keys {
		m.keys = append(m.keys, fingerprint(key))
	}
	m.plaintext, m.time = plaintext, e.now().UnixNano()
	b, err := e.sealMsg(m, keys)
	if err != nil {
		e.logger.Warn("key operation reply not sent", "peer", to.Name, "err", err)
		return
	}
	send := func() {
		if err := e.host.Send(to, b); err != nil {
			e.logger.Warn("key operation reply not delivered", "peer", to.Name, "addr", to.Addr, "err", err)
		}
	}
	if !async {
		send()
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		send()
	}()
}

// remember records a request ID; false if it was seen (a replay) or the
// cache is full of live entries.
func (e *Endpoint) remember(id [16]byte, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.seen[id]; dup {
		return false
	}
	if len(e.seen) >= maxSeen {
		for i, until := range e.seen {
			if now.After(until) {
				delete(e.seen, i)
			}
		}
		if len(e.seen) >= maxSeen {
			return false
		}
	}
	e.seen[id] = now.Add(2 * Window)
	return true
}

// apply runs an operation on this node: List and Encrypt's check are
// answered here, the changes by the host.
func (e *Endpoint) apply(op Op, key []byte) error {
	switch op {
	case List:
		return nil
	case Encrypt:
		// Phase 1 only checks: a node that could open the request holds
		// keys, pending or in use; the coordinator compares the primary
		// fingerprints of the replies.
		if keys, _, _ := e.localKeys(); len(keys) == 0 {
			return errors.New("no keys: start the node with WithKeyringMigration")
		}
		return nil
	case Install, Use, Remove, EncryptCommit:
		return e.host.Apply(op, key)
	}
	return fmt.Errorf("unknown key operation %d", op)
}

// sealMsg encodes m and seals it with the first of keys (this node's
// primary or first pending key).
func (e *Endpoint) sealMsg(m keyMsg, keys [][]byte) ([]byte, error) {
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
