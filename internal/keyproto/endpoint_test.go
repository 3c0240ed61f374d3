package keyproto

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func k(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }

// host is a Host in memory: node "b", whose view holds member "a", whose
// keyring is a slice, and whose sends are captured (or handled by deliver).
type host struct {
	mu      sync.Mutex
	ring    [][]byte
	pending [][]byte
	sent    []sentMsg
	deliver func(to Peer, b []byte) error // nil: capture
}

type sentMsg struct {
	to Peer
	b  []byte
}

var members = map[string]Peer{"a": {"a", "127.0.0.1:7001"}, "b": {"b", "127.0.0.1:7002"}}

func (h *host) Self() Peer                    { return members["b"] }
func (h *host) Peer(name string) (Peer, bool) { p, ok := members[name]; return p, ok }
func (h *host) Peers() []Peer                 { return []Peer{members["a"]} }

func (h *host) Send(to Peer, b []byte) error {
	if h.deliver != nil {
		return h.deliver(to, b)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, sentMsg{to, b})
	return nil
}

func (h *host) Keys() (ring, pending [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ring), slices.Clone(h.pending)
}

func (h *host) has(key []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.ring, func(x []byte) bool { return bytes.Equal(x, key) })
}

// Apply is the keyring's rules, as package gossip applies them.
func (h *host) Apply(op Op, key []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.ring, func(x []byte) bool { return bytes.Equal(x, key) })
	switch {
	case op == EncryptCommit:
		h.ring, h.pending = append(h.ring, h.pending...), nil
	case op == Install && i < 0:
		h.ring = append(h.ring, key)
	case op == Use && i < 0:
		return errors.New("key is not installed in the keyring")
	case op == Use:
		h.ring = append([][]byte{key}, slices.Delete(h.ring, i, i+1)...)
	case op == Remove && i == 0:
		return ErrRemovePrimaryKey
	case op == Remove && i > 0:
		h.ring = slices.Delete(h.ring, i, i+1)
	}
	return nil
}

// endpoint is the Endpoint of node "b" with keyring keys, on a clock the
// test sets.
type endpoint struct {
	*Endpoint
	h   *host
	now time.Time
}

func newEndpoint(t *testing.T, keys ...[]byte) *endpoint {
	t.Helper()
	e := &endpoint{h: &host{ring: keys}, now: time.Unix(1_800_000_000, 0)}
	e.Endpoint = New(e.h, Config{Now: func() time.Time { return e.now }})
	t.Cleanup(e.Stop)
	return e
}

// request seals a request from "from" with key.
func (e *endpoint) request(t *testing.T, key []byte, from string, op Op, arg []byte, id byte, at time.Time) []byte {
	t.Helper()
	b, err := e.sealMsg(keyMsg{kind: kindRequest, op: op, id: [16]byte{id}, time: at.UnixNano(), from: from, key: arg}, [][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replies waits for the reply goroutines and decodes what was sent.
func (e *endpoint) replies(t *testing.T, key []byte) []keyMsg {
	t.Helper()
	e.wg.Wait()
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	var out []keyMsg
	for _, s := range e.h.sent {
		if s.to.Addr != "127.0.0.1:7001" {
			t.Fatalf("reply sent to %s, want the member's known address", s.to.Addr)
		}
		plain, err := open([][]byte{key}, s.b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodeKeyMsg(plain)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
func TestKeyRequestAccepted(t *testing.T) {
	e := newEndpoint(t, k(1))
	e.handle(e.request(t, k(1), "a", Install, k(2), 1, e.now))
	if !e.h.has(k(2)) {
		t.Fatal("install from a member with the key was not applied")
	}
	rs := e.replies(t, k(1))
	if len(rs) != 1 || rs[0].kind != kindResponse || rs[0].status != respDone || rs[0].id != [16]byte{1} || rs[0].from != "b" ||
		len(rs[0].keys) != 2 || rs[0].keys[0] != fingerprint(k(1)) {
		t.Fatalf("reply %+v", rs)
	}
}

func TestKeyRequestReplayDropped(t *testing.T) {
	e := newEndpoint(t, k(1))
	req := e.request(t, k(1), "a", Install, k(2), 1, e.now)
	e.handle(req)
	if err := e.h.Apply(Remove, k(2)); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(10 * time.Second)                        // inside the window
	e.handle(req)                                              // the same bytes, replayed
	e.handle(e.request(t, k(1), "a", Install, k(2), 1, e.now)) // same ID, resealed
	if e.h.has(k(2)) {
		t.Fatal("a replayed request was applied")
	}
	if rs := e.replies(t, k(1)); len(rs) != 1 {
		t.Fatalf("%d replies, want 1 (to the first request only)", len(rs))
	}
}

func TestKeyRequestOutsideWindowDropped(t *testing.T) {
	e := newEndpoint(t, k(1))
	e.handle(e.request(t, k(1), "a", Install, k(2), 1, e.now.Add(-Window-time.Second)))
	e.handle(e.request(t, k(1), "a", Install, k(3), 2, e.now.Add(Window+time.Second)))
	if e.h.has(k(2)) || e.h.has(k(3)) {
		t.Fatal("a request outside the time window was applied")
	}
	if rs := e.replies(t, k(1)); len(rs) != 0 {
		t.Fatalf("%d replies to stale requests", len(rs))
	}
}

func TestKeyRequestFromNonMemberDropped(t *testing.T) {
	e := newEndpoint(t, k(1))
	e.handle(e.request(t, k(1), "mallory", Install, k(2), 1, e.now)) // not in the view
	e.handle(e.request(t, k(1), "b", Install, k(3), 2, e.now))       // claims to be the receiver
	e.handle(e.request(t, k(9), "a", Install, k(4), 3, e.now))       // a member's name, another key
	for _, key := range [][]byte{k(2), k(3), k(4)} {
		if e.h.has(key) {
			t.Fatalf("key %x installed by a request that is not a member's", key[:1])
		}
	}
	if rs := e.replies(t, k(1)); len(rs) != 0 {
		t.Fatalf("%d replies to non-members", len(rs))
	}
}

func TestKeyRequestRefusals(t *testing.T) {
	e := newEndpoint(t, k(1), k(2))
	e.handle(e.request(t, k(1), "a", Remove, k(1), 1, e.now))
	e.handle(e.request(t, k(2), "a", Use, k(7), 2, e.now)) // sealed with the secondary key: accepted
	rs := e.replies(t, k(1))
	if len(rs) != 2 {
		t.Fatalf("%d replies", len(rs))
	}
	for _, r := range rs {
		if r.status != respRefused || r.message == "" {
			t.Fatalf("reply %+v, want refused with a reason", r)
		}
	}
	if ring, _ := e.h.Keys(); !e.h.has(k(1)) || Fingerprint(ring[0]) != Fingerprint(k(1)) {
		t.Fatal("the primary key was removed or changed")
	}
}

func TestReplayCacheBounded(t *testing.T) {
	e := newEndpoint(t, k(1))
	for i := range maxSeen {
		if !e.remember([16]byte{byte(i), byte(i >> 8)}, e.now) {
			t.Fatalf("entry %d refused", i)
		}
	}
	if e.remember([16]byte{0xff, 0xff, 1}, e.now) {
		t.Fatal("a full cache of live entries took one more (it must fail closed)")
	}
	if !e.remember([16]byte{0xff, 0xff, 1}, e.now.Add(3*Window)) {
		t.Fatal("expired entries were not pruned")
	}
}

// TestEncryptConfirmsTheSwitch: a member acknowledges the switch in
// plaintext and turns encryption on after it. Encrypt returns success only
// when the members report, after their ack, that they encrypt; a member
// that acked but still sends plaintext is named, not reported done. (Before
// the confirmation round, Encrypt returned while a member could still be
// plaintext: TestKeyringMigrationWithoutDowntime failed in CI.)
func TestEncryptConfirmsTheSwitch(t *testing.T) {
	for _, switches := range []bool{true, false} {
		e := newEndpoint(t)
		e.h.pending = [][]byte{k(1)} // migrating: an empty keyring, k(1) pending
		var (
			mu  sync.Mutex
			ops []Op
		)
		// Peer "a", migrating with k(1): it answers every request; after
		// the commit it encrypts only if switches.
		e.h.deliver = migratingPeer(e, &mu, &ops,
			func(op Op) bool { return op == Encrypt || (op == List && !switches) },
			func(Op) bool { return false })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rs, err := e.Do(ctx, Encrypt, nil)
		cancel()
		e.Stop()
		if !slices.Equal(ops, []Op{Encrypt, EncryptCommit, List}) {
			t.Fatalf("requests sent %v, want check, commit, confirm", ops)
		}
		if len(rs) != 2 || rs[1].Name != "a" {
			t.Fatalf("replies %s", statuses(rs))
		}
		if ring, _ := e.h.Keys(); len(ring) != 1 || rs[0].Plaintext {
			t.Fatalf("the coordinator did not switch: keyring of %d keys, plaintext %v", len(ring), rs[0].Plaintext)
		}
		if switches {
			if err != nil || rs[1].Status != Acked || rs[1].Plaintext {
				t.Fatalf("a member that switched: %v (%s, plaintext %v)", err, statuses(rs), rs[1].Plaintext)
			}
			continue
		}
		if !errors.Is(err, ErrNotAcknowledged) || rs[1].Status != Refused || !strings.Contains(rs[1].Err, "still sends plaintext") {
			t.Fatalf("a member that acked but did not switch: %v (%s: %q)", err, statuses(rs), rs[1].Err)
		}
	}
}

// migratingPeer is a fake peer "a", migrating with k(1), for e's deliver:
// it records every request's op in ops (under mu) and answers it unless
// drop says to lose the answer, reporting plaintext as plaintext says.
func migratingPeer(e *endpoint, mu *sync.Mutex, ops *[]Op, plaintext func(Op) bool, drop func(Op) bool) func(Peer, []byte) error {
	return func(to Peer, b []byte) error {
		plain, err := open([][]byte{k(1)}, b)
		if err != nil {
			return err
		}
		req, err := decodeKeyMsg(plain)
		if err != nil {
			return err
		}
		mu.Lock()
		*ops = append(*ops, req.op)
		dropped := drop(req.op)
		mu.Unlock()
		if dropped {
			return nil // delivered, but its answer never arrives
		}
		resp := keyMsg{kind: kindResponse, op: req.op, id: req.id, from: "a", status: respDone,
			time: e.now.UnixNano(), keys: [][fingerprintSz]byte{fingerprint(k(1))}, plaintext: plaintext(req.op)}
		sealed, err := e.sealMsg(resp, [][]byte{k(1)})
		if err != nil {
			return err
		}
		e.handle(sealed)
		return nil
	}
}

func statuses(rs []Reply) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Name+"="+r.Status.String())
	}
	return strings.Join(s, " ")
}

// TestEncryptAsksASilentMemberAgain: a member's answer to the confirmation
// is lost (it answered just before it encrypted, and the coordinator,
// which already did, dropped the plaintext); the coordinator asks it again
// with a new request, and Encrypt succeeds. Before, the lost answer made
// Encrypt report the member as timed out although every member encrypted.
func TestEncryptAsksASilentMemberAgain(t *testing.T) {
	e := newEndpoint(t)
	e.h.pending = [][]byte{k(1)}
	var (
		mu    sync.Mutex
		ops   []Op
		lists int
	)
	e.h.deliver = migratingPeer(e, &mu, &ops,
		func(op Op) bool { return op == Encrypt },
		func(op Op) bool {
			if op == List {
				lists++
			}
			return op == List && lists == 1 // the first confirmation's answer is lost
		})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	rs, err := e.Do(ctx, Encrypt, nil)
	cancel()
	e.Stop()
	if err != nil || len(rs) != 2 || rs[1].Status != Acked || rs[1].Plaintext {
		t.Fatalf("Encrypt after a lost confirmation: %v (%s)", err, statuses(rs))
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ops, []Op{Encrypt, EncryptCommit, List, List}) {
		t.Fatalf("requests sent %v, want check, commit, confirm, confirm again", ops)
	}
}
