package keyproto

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The coordinator's side of the key operations: ask every live member,
// collect the replies, and the rules that keep the cluster able to talk.

// call is one request in flight: the replies, indexed like targets.
type call struct {
	op      Op
	mu      sync.Mutex
	index   map[string]int
	replies []Reply
	left    int
	done    chan struct{}
}

// record sets a target's reply once; later ones are ignored.
func (c *call) record(name string, r Reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[name]
	if !ok || c.replies[i].Status != 0 {
		return
	}
	r.Name, r.Addr = c.replies[i].Name, c.replies[i].Addr
	c.replies[i] = r
	c.left--
	if c.left == 0 {
		close(c.done)
	}
}

// onResponse hands a response to its call, if it is in flight and from
// one of its targets.
func (e *Endpoint) onResponse(m keyMsg, from Peer) {
	e.mu.Lock()
	c := e.calls[m.id]
	e.mu.Unlock()
	if c == nil || c.op != m.op {
		e.logger.Debug("key operation reply for no request in flight dropped", "peer", from.Name)
		return
	}
	r := Reply{Status: Acked, Plaintext: m.plaintext}
	for _, fp := range m.keys {
		r.Keys = append(r.Keys, hex.EncodeToString(fp[:]))
	}
	if m.status == respRefused {
		r.Status, r.Err = Refused, m.message
	}
	c.record(from.Name, r)
}

// ask sends op to targets and waits for their replies until ctx ends.
func (e *Endpoint) ask(ctx context.Context, op Op, key []byte, targets []Peer) ([]Reply, error) {
	c := &call{op: op, index: make(map[string]int), done: make(chan struct{}), left: len(targets)}
	for i, t := range targets {
		c.index[t.Name] = i
		c.replies = append(c.replies, Reply{Name: t.Name, Addr: t.Addr})
	}
	if len(targets) == 0 {
		return nil, nil
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	keys, _, _ := e.localKeys()
	b, err := e.sealMsg(keyMsg{kind: kindRequest, op: op, id: id, time: e.now().UnixNano(), from: e.host.Self().Name, key: key}, keys)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.calls[id] = c
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.calls, id)
		e.mu.Unlock()
	}()
	for _, t := range targets {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if err := e.host.Send(t, b); err != nil {
				c.record(t.Name, Reply{Status: Unreachable, Err: err.Error()})
			}
		}()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	case <-e.ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.replies)
	for i := range out {
		if out[i].Status == 0 {
			out[i].Status, out[i].Err = Timeout, "no answer before the deadline"
		}
	}
	return out, nil
}

// local is this node's own reply, after applying op.
func (e *Endpoint) local(op Op, key []byte) Reply {
	self := e.host.Self()
	r := Reply{Name: self.Name, Addr: self.Addr, Status: Acked}
	if err := e.apply(op, key); err != nil {
		r.Status, r.Err = Refused, err.Error()
	}
	keys, plain, _ := e.localKeys()
	r.Keys, r.Plaintext = fingerprints(keys), plain
	return r
}

func fingerprints(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, key := range keys {
		out[i] = Fingerprint(key)
	}
	return out
}

// Do runs op on every live member, this node included, and returns one
// reply per member, this node first, then by name. The replies arrive
// until ctx ends; members that have not answered by then are Timeout. The
// error is nil only when every member acknowledged; ErrUseRefused,
// ErrRemoveRefused and ErrEncryptRefused mean that the rules refused the
// operation before anything changed (the replies are those of the check,
// the refusing members' Err saying why). Encrypt reports success only
// when every member says, after the switch, that it encrypts.
//
// Members that were sent Install, Use or Remove but did not answer are
// retried in the background, in order, while they are live members, until
// they answer (ledger.go).
func (e *Endpoint) Do(ctx context.Context, op Op, key []byte) ([]Reply, error) {
	switch op {
	case Install, Use, Remove:
		if err := ValidateKey(key); err != nil {
			return nil, err
		}
	case List, Encrypt:
		key = nil
	default:
		return nil, fmt.Errorf("unknown key operation %d", op)
	}
	keys, plaintext, _ := e.localKeys()
	// Pending migration keys are not a keyring to change yet.
	if len(keys) == 0 || plaintext && (op == Install || op == Use || op == Remove) {
		return nil, ErrNoKeyring
	}
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.ctx.Done():
		return nil, e.stopped
	}
	peers := e.host.Peers()
	slices.SortFunc(peers, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	switch op {
	case Use, Remove, Encrypt:
		if replies, err := e.check(ctx, op, key, peers); err != nil {
			return replies, err
		}
	}
	if op == Encrypt {
		op = EncryptCommit
	}
	var self Reply
	if op != EncryptCommit { // the coordinator turns encryption on last
		self = e.local(op, key)
	}
	replies, err := e.ask(ctx, op, key, peers)
	if err != nil {
		return nil, err
	}
	if op == EncryptCommit {
		self = e.local(op, key)
		if self.Status == Acked {
			replies = e.confirmEncrypted(ctx, replies)
		}
	}
	replies = append([]Reply{self}, replies...)
	if op == Install || op == Use || op == Remove {
		e.noteLedger(op, key, replies[1:])
	}
	return replies, complete(replies)
}

// confirmEncrypted asks the members that acknowledged the switch what they
// send with now, and returns their answers in place of the acks. A member
// acknowledges the switch in plaintext and turns encryption on right
// after (the coordinator could not read an encrypted ack), so an ack alone
// does not mean the member encrypts yet; a list request queued behind the
// switch on that member does. A member still reporting plaintext is
// Refused, one that no longer answers keeps the ask's status: Encrypt
// reports success only for a cluster that encrypts when it returns.
func (e *Endpoint) confirmEncrypted(ctx context.Context, acks []Reply) []Reply {
	var targets []Peer
	at := make(map[string]int)
	for i, r := range acks {
		if r.Status == Acked {
			at[r.Name] = i
			targets = append(targets, Peer{Name: r.Name, Addr: r.Addr})
		}
	}
	// Asked again, each round a new request, while members stay silent:
	// an answer can be lost around the switch (the member answers just
	// before it encrypts, and the coordinator, which already does,
	// drops the plaintext), and a lost answer must not fail an Encrypt
	// that took effect everywhere. Seen in TestKeyringMigrationWithoutDowntime,
	// about one run in ten under load.
	for pending := targets; len(pending) > 0; {
		round, cancel := context.WithTimeout(ctx, confirmRound)
		confirms, err := e.ask(round, List, nil, pending)
		cancel()
		if err != nil {
			for _, t := range pending {
				acks[at[t.Name]].Status, acks[at[t.Name]].Err = Unreachable, "switch not confirmed: "+err.Error()
			}
			return acks
		}
		pending = nil
		for _, c := range confirms {
			if c.Status == Acked && c.Plaintext {
				c.Status, c.Err = Refused, "acknowledged the switch but still sends plaintext"
			}
			acks[at[c.Name]] = c
			if c.Status == Timeout && ctx.Err() == nil && e.ctx.Err() == nil {
				pending = append(pending, Peer{Name: c.Name, Addr: c.Addr})
			}
		}
	}
	return acks
}

// confirmRound is how long one round of confirmEncrypted waits for the
// members' answers before it asks the silent ones again.
const confirmRound = time.Second

func complete(replies []Reply) error {
	var missing []string
	for _, r := range replies {
		if r.Status != Acked {
			missing = append(missing, r.Name+" ("+r.Status.String()+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %d of %d did not: %s", ErrNotAcknowledged, len(missing), len(replies), strings.Join(missing, ", "))
	}
	return nil
}

// check runs the safety rule of op: it lists every live member's keys and
// refuses when one did not answer or would be cut off.
func (e *Endpoint) check(ctx context.Context, op Op, key []byte, peers []Peer) ([]Reply, error) {
	listOp, refusal := List, ErrUseRefused
	switch op {
	case Remove:
		refusal = ErrRemoveRefused
	case Encrypt:
		listOp, refusal = Encrypt, ErrEncryptRefused
	}
	replies, err := e.ask(ctx, listOp, nil, peers)
	if err != nil {
		return nil, err
	}
	self := e.local(List, nil)
	replies = append([]Reply{self}, replies...)
	fp := ""
	if key != nil {
		fp = Fingerprint(key)
	}
	var bad []string
	for i := range replies {
		r := &replies[i]
		why := ""
		switch {
		case r.Status != Acked:
			why = "did not answer the check: " + r.Status.String()
			if r.Err != "" {
				why += ": " + r.Err
			}
		case op == Use && !slices.Contains(r.Keys, fp):
			why = "does not have the key installed"
		case op == Remove && len(r.Keys) > 0 && r.Keys[0] == fp:
			why = "uses the key as its primary key"
		case op == Encrypt && (len(r.Keys) == 0 || len(self.Keys) == 0 || r.Keys[0] != self.Keys[0]):
			why = "holds other keys than this node (primary fingerprints differ)"
		}
		if why != "" {
			r.Status, r.Err = Refused, why
			bad = append(bad, r.Name+": "+why)
		}
	}
	if len(bad) > 0 {
		if op == Remove && replies[0].Status == Refused {
			return replies, fmt.Errorf("%w: %w; %s", refusal, ErrRemovePrimaryKey, strings.Join(bad, "; "))
		}
		return replies, fmt.Errorf("%w; %s", refusal, strings.Join(bad, "; "))
	}
	return replies, nil
}
