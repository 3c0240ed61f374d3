package gossip

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gencluster/gencluster/membership"
)

// The coordinator's side of the key operations: ask every live member,
// collect the replies, and the rules that keep the cluster able to talk.

// Errors of ClusterKeyOp; test with errors.Is.
var (
	// ErrNotAcknowledged: the operation was sent, but not every member
	// acknowledged it (see the replies for who and why).
	ErrNotAcknowledged = errors.New("not every member acknowledged the key operation")
	// ErrUseRefused: Use was refused before anything changed, because not
	// every live member reported having the key.
	ErrUseRefused = errors.New("use refused: not every live member reported having the key installed; nothing was changed")
	// ErrRemoveRefused: Remove was refused before anything changed,
	// because the key is a member's primary key, or not every live member
	// answered.
	ErrRemoveRefused = errors.New("remove refused: the key may be a live member's primary key; nothing was changed")
	// ErrEncryptRefused: Encrypt was refused before anything changed,
	// because not every live member is migrating with the same keys.
	ErrEncryptRefused = errors.New("encrypt refused: not every live member holds the same pending keys; nothing was changed")
)

// call is one request in flight: the replies, indexed like targets.
type call struct {
	op      KeyOp
	mu      sync.Mutex
	index   map[string]int
	replies []KeyReply
	left    int
	done    chan struct{}
}

// record sets a target's reply once; later ones are ignored.
func (c *call) record(name string, r KeyReply) {
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
func (k *keyOps) onResponse(m keyMsg, from membership.Member) {
	k.mu.Lock()
	c := k.calls[m.id]
	k.mu.Unlock()
	if c == nil || c.op != m.op {
		k.logger.Debug("key operation reply for no request in flight dropped", "peer", from.Name)
		return
	}
	r := KeyReply{Status: KeyAcked, Plaintext: m.plaintext}
	for _, fp := range m.keys {
		r.Keys = append(r.Keys, hex.EncodeToString(fp[:]))
	}
	if m.status == respRefused {
		r.Status, r.Err = KeyRefused, m.message
	}
	c.record(from.Name, r)
}

// ask sends op to targets and waits for their replies until ctx ends.
func (k *keyOps) ask(ctx context.Context, op KeyOp, key []byte, targets []membership.Member) ([]KeyReply, error) {
	c := &call{op: op, index: make(map[string]int), done: make(chan struct{}), left: len(targets)}
	for i, t := range targets {
		c.index[t.Name] = i
		c.replies = append(c.replies, KeyReply{Name: t.Name, Addr: t.Addr})
	}
	if len(targets) == 0 {
		return nil, nil
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	keys, _ := k.localKeys()
	b, err := k.sealMsg(keyMsg{kind: kindRequest, op: op, id: id, time: k.now().UnixNano(), from: k.g.name, key: key}, keys)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.calls[id] = c
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.calls, id)
		k.mu.Unlock()
	}()
	for _, t := range targets {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			if err := k.send(t, b); err != nil {
				c.record(t.Name, KeyReply{Status: KeyUnreachable, Err: err.Error()})
			}
		}()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	case <-k.ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.replies)
	for i := range out {
		if out[i].Status == 0 {
			out[i].Status, out[i].Err = KeyTimeout, "no answer before the deadline"
		}
	}
	return out, nil
}

// local is this node's own reply, after applying op.
func (k *keyOps) local(op KeyOp, key []byte) KeyReply {
	r := KeyReply{Name: k.g.name, Addr: k.g.addr, Status: KeyAcked}
	if err := k.apply(op, key); err != nil {
		r.Status, r.Err = KeyRefused, err.Error()
	}
	keys, plain := k.localKeys()
	r.Keys, r.Plaintext = fingerprints(keys), plain
	return r
}

func fingerprints(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, key := range keys {
		out[i] = KeyFingerprint(key)
	}
	return out
}

// peers are the live members other than this node.
func (k *keyOps) peers() []membership.Member {
	ms := k.del.members()
	ms = slices.DeleteFunc(ms, func(m membership.Member) bool { return m.Name == k.g.name })
	slices.SortFunc(ms, func(a, b membership.Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// ClusterKeyOp runs op on every live member, this node included, and
// returns one reply per member, this node first, then by name. The
// replies arrive until ctx ends; members that have not answered by then
// are KeyTimeout. The error is nil only when every member acknowledged;
// ErrUseRefused, ErrRemoveRefused and ErrEncryptRefused mean that the
// rules refused the operation before anything changed (the replies are
// those of the check, the refusing members' Err saying why).
//
// Members that were sent install, use or remove but did not answer are
// retried in the background, in order, while they are live members, until
// they answer (see ledger).
func (g *Gossip) ClusterKeyOp(ctx context.Context, op KeyOp, key []byte) ([]KeyReply, error) {
	return g.kops.do(ctx, op, key)
}

func (k *keyOps) do(ctx context.Context, op KeyOp, key []byte) ([]KeyReply, error) {
	switch op {
	case KeyInstall, KeyUse, KeyRemove:
		if err := ValidateKey(key); err != nil {
			return nil, err
		}
	case KeyList, KeyEncrypt:
		key = nil
	default:
		return nil, fmt.Errorf("unknown key operation %d", op)
	}
	if keys, _ := k.localKeys(); len(keys) == 0 {
		return nil, ErrNoKeyring
	}
	if op == KeyInstall || op == KeyUse || op == KeyRemove {
		// Pending migration keys are not a keyring to change yet.
		k.g.keyMu.Lock()
		_, err := k.g.ring()
		k.g.keyMu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	select {
	case k.sem <- struct{}{}:
		defer func() { <-k.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-k.ctx.Done():
		return nil, ErrStopped
	}
	peers := k.peers()
	switch op {
	case KeyUse, KeyRemove, KeyEncrypt:
		if replies, err := k.check(ctx, op, key, peers); err != nil {
			return replies, err
		}
	}
	if op == KeyEncrypt {
		op = keyEncryptCommit
	}
	var self KeyReply
	if op != keyEncryptCommit { // the coordinator turns encryption on last
		self = k.local(op, key)
	}
	replies, err := k.ask(ctx, op, key, peers)
	if err != nil {
		return nil, err
	}
	if op == keyEncryptCommit {
		self = k.local(op, key)
		if self.Status == KeyAcked {
			replies = k.confirmEncrypted(ctx, replies)
		}
	}
	replies = append([]KeyReply{self}, replies...)
	if op == KeyInstall || op == KeyUse || op == KeyRemove {
		k.noteLedger(op, key, replies[1:])
	}
	return replies, complete(replies)
}

// confirmEncrypted asks the members that acknowledged the switch what they
// send with now, and returns their answers in place of the acks. A member
// acknowledges the switch in plaintext and turns encryption on right
// after (the coordinator could not read an encrypted ack), so an ack alone
// does not mean the member encrypts yet; a list request queued behind the
// switch on that member does. A member still reporting plaintext is
// KeyRefused, one that no longer answers keeps the ask's status: Encrypt
// reports success only for a cluster that encrypts when it returns.
func (k *keyOps) confirmEncrypted(ctx context.Context, acks []KeyReply) []KeyReply {
	var targets []membership.Member
	at := make(map[string]int)
	for i, r := range acks {
		if r.Status == KeyAcked {
			at[r.Name] = i
			targets = append(targets, membership.Member{Name: r.Name, Addr: r.Addr})
		}
	}
	confirms, err := k.ask(ctx, KeyList, nil, targets)
	if err != nil {
		for _, t := range targets {
			acks[at[t.Name]].Status, acks[at[t.Name]].Err = KeyUnreachable, "switch not confirmed: "+err.Error()
		}
		return acks
	}
	for _, c := range confirms {
		if c.Status == KeyAcked && c.Plaintext {
			c.Status, c.Err = KeyRefused, "acknowledged the switch but still sends plaintext"
		}
		acks[at[c.Name]] = c
	}
	return acks
}

func complete(replies []KeyReply) error {
	var missing []string
	for _, r := range replies {
		if r.Status != KeyAcked {
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
func (k *keyOps) check(ctx context.Context, op KeyOp, key []byte, peers []membership.Member) ([]KeyReply, error) {
	listOp, refusal := KeyList, ErrUseRefused
	switch op {
	case KeyRemove:
		refusal = ErrRemoveRefused
	case KeyEncrypt:
		listOp, refusal = KeyEncrypt, ErrEncryptRefused
	}
	replies, err := k.ask(ctx, listOp, nil, peers)
	if err != nil {
		return nil, err
	}
	self := k.local(KeyList, nil)
	replies = append([]KeyReply{self}, replies...)
	fp := ""
	if key != nil {
		fp = KeyFingerprint(key)
	}
	var bad []string
	for i := range replies {
		r := &replies[i]
		why := ""
		switch {
		case r.Status != KeyAcked:
			why = "did not answer the check: " + r.Status.String()
			if r.Err != "" {
				why += ": " + r.Err
			}
		case op == KeyUse && !slices.Contains(r.Keys, fp):
			why = "does not have the key installed"
		case op == KeyRemove && len(r.Keys) > 0 && r.Keys[0] == fp:
			why = "uses the key as its primary key"
		case op == KeyEncrypt && (len(r.Keys) == 0 || len(self.Keys) == 0 || r.Keys[0] != self.Keys[0]):
			why = "holds other keys than this node (primary fingerprints differ)"
		}
		if why != "" {
			r.Status, r.Err = KeyRefused, why
			bad = append(bad, r.Name+": "+why)
		}
	}
	if len(bad) > 0 {
		if op == KeyRemove && replies[0].Status == KeyRefused {
			return replies, fmt.Errorf("%w: %w; %s", refusal, ErrRemovePrimaryKey, strings.Join(bad, "; "))
		}
		return replies, fmt.Errorf("%w; %s", refusal, strings.Join(bad, "; "))
	}
	return replies, nil
}
