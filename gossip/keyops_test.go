package gossip

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/joinfail"
	"github.com/gencluster/gencluster/internal/testing/testutil"
	"github.com/gencluster/gencluster/membership"
)

// endpoint is a keyOps of a node "b" with keyring keys, whose view holds
// member "a", and whose replies are captured instead of sent.
type endpoint struct {
	k    *keyOps
	g    *Gossip
	mu   sync.Mutex
	sent []sentMsg
	now  time.Time
}

type sentMsg struct {
	to membership.Member
	b  []byte
}

func newEndpoint(t *testing.T, keys ...[]byte) *endpoint {
	t.Helper()
	kr, err := memberlist.NewKeyring(keys[1:], keys[0])
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	del := &delegate{logger: logger, view: viewOf(
		membership.Member{Name: "a", Addr: "127.0.0.1:7001"},
		membership.Member{Name: "b", Addr: "127.0.0.1:7002"},
	)}
	e := &endpoint{now: time.Unix(1_800_000_000, 0)}
	e.k = newKeyOps(del, logger, nil)
	e.g = &Gossip{name: "b", addr: "127.0.0.1:7002", keyring: kr, kops: e.k, logger: logger}
	e.k.g = e.g
	e.k.now = func() time.Time { return e.now }
	e.k.send = func(to membership.Member, b []byte) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.sent = append(e.sent, sentMsg{to, b})
		return nil
	}
	t.Cleanup(e.k.stop)
	return e
}

// request seals a request from "from" with key.
func (e *endpoint) request(t *testing.T, key []byte, from string, op KeyOp, arg []byte, id byte, at time.Time) []byte {
	t.Helper()
	b, err := e.k.sealMsg(keyMsg{kind: kindRequest, op: op, id: [16]byte{id}, time: at.UnixNano(), from: from, key: arg}, [][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replies waits for the reply goroutines and decodes what was sent.
func (e *endpoint) replies(t *testing.T, key []byte) []keyMsg {
	t.Helper()
	e.k.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []keyMsg
	for _, s := range e.sent {
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

func hasKey(g *Gossip, key []byte) bool {
	return slices.ContainsFunc(g.Keys(), func(x []byte) bool { return string(x) == string(key) })
}

func TestKeyRequestAccepted(t *testing.T) {
	e := newEndpoint(t, k(1))
	e.k.handle(e.request(t, k(1), "a", KeyInstall, k(2), 1, e.now))
	if !hasKey(e.g, k(2)) {
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
	req := e.request(t, k(1), "a", KeyInstall, k(2), 1, e.now)
	e.k.handle(req)
	if err := e.g.RemoveKey(k(2)); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(10 * time.Second)                             // inside the window
	e.k.handle(req)                                                 // the same bytes, replayed
	e.k.handle(e.request(t, k(1), "a", KeyInstall, k(2), 1, e.now)) // same ID, resealed
	if hasKey(e.g, k(2)) {
		t.Fatal("a replayed request was applied")
	}
	if rs := e.replies(t, k(1)); len(rs) != 1 {
		t.Fatalf("%d replies, want 1 (to the first request only)", len(rs))
	}
}

func TestKeyRequestOutsideWindowDropped(t *testing.T) {
	e := newEndpoint(t, k(1))
	e.k.handle(e.request(t, k(1), "a", KeyInstall, k(2), 1, e.now.Add(-KeyOpWindow-time.Second)))
	e.k.handle(e.request(t, k(1), "a", KeyInstall, k(3), 2, e.now.Add(KeyOpWindow+time.Second)))
	if hasKey(e.g, k(2)) || hasKey(e.g, k(3)) {
		t.Fatal("a request outside the time window was applied")
	}
	if rs := e.replies(t, k(1)); len(rs) != 0 {
		t.Fatalf("%d replies to stale requests", len(rs))
	}
}

func TestKeyRequestFromNonMemberDropped(t *testing.T) {
	e := newEndpoint(t, k(1))
	e.k.handle(e.request(t, k(1), "mallory", KeyInstall, k(2), 1, e.now)) // not in the view
	e.k.handle(e.request(t, k(1), "b", KeyInstall, k(3), 2, e.now))       // claims to be the receiver
	e.k.handle(e.request(t, k(9), "a", KeyInstall, k(4), 3, e.now))       // a member's name, another key
	for _, key := range [][]byte{k(2), k(3), k(4)} {
		if hasKey(e.g, key) {
			t.Fatalf("key %x installed by a request that is not a member's", key[:1])
		}
	}
	if rs := e.replies(t, k(1)); len(rs) != 0 {
		t.Fatalf("%d replies to non-members", len(rs))
	}
}

func TestKeyRequestRefusals(t *testing.T) {
	e := newEndpoint(t, k(1), k(2))
	e.k.handle(e.request(t, k(1), "a", KeyRemove, k(1), 1, e.now))
	e.k.handle(e.request(t, k(2), "a", KeyUse, k(7), 2, e.now)) // sealed with the secondary key: accepted
	rs := e.replies(t, k(1))
	if len(rs) != 2 {
		t.Fatalf("%d replies", len(rs))
	}
	for _, r := range rs {
		if r.status != respRefused || r.message == "" {
			t.Fatalf("reply %+v, want refused with a reason", r)
		}
	}
	if !hasKey(e.g, k(1)) || KeyFingerprint(e.g.Keys()[0]) != KeyFingerprint(k(1)) {
		t.Fatal("the primary key was removed or changed")
	}
}

func TestReplayCacheBounded(t *testing.T) {
	e := newEndpoint(t, k(1))
	for i := range maxSeen {
		if !e.k.remember([16]byte{byte(i), byte(i >> 8)}, e.now) {
			t.Fatalf("entry %d refused", i)
		}
	}
	if e.k.remember([16]byte{0xff, 0xff, 1}, e.now) {
		t.Fatal("a full cache of live entries took one more (it must fail closed)")
	}
	if !e.k.remember([16]byte{0xff, 0xff, 1}, e.now.Add(3*KeyOpWindow)) {
		t.Fatal("expired entries were not pruned")
	}
}

// keyed starts n gossips with keys, joined.
func keyed(t *testing.T, n int, keys ...[]byte) []*Gossip {
	t.Helper()
	var gs []*Gossip
	for i := range n {
		cfg := Config{Name: string(rune('a' + i)), BindAddr: "127.0.0.1:0", Memberlist: func(mc *memberlist.Config) {
			fast(mc)
			mc.Keyring, _ = memberlist.NewKeyring(keys[1:], keys[0])
		}}
		g, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		if i > 0 {
			if err := g.Connect(context.Background(), gs[0].Addr()); err != nil {
				t.Fatal(err)
			}
		}
		gs = append(gs, g)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, g := range gs {
			if len(g.Members()) != n {
				return false
			}
		}
		return true
	}, "all members")
	return gs
}

func statuses(rs []KeyReply) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Name+"="+r.Status.String())
	}
	return strings.Join(s, " ")
}

func TestClusterKeyRotation(t *testing.T) {
	gs := keyed(t, 3, k(1))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Use before install: refused, nothing changed.
	rs, err := gs[1].ClusterKeyOp(ctx, KeyUse, k(2))
	if !errors.Is(err, ErrUseRefused) || len(rs) != 3 {
		t.Fatalf("use of a key nobody has: %v (%s)", err, statuses(rs))
	}
	if rs, err = gs[1].ClusterKeyOp(ctx, KeyInstall, k(2)); err != nil || rs[0].Name != "b" {
		t.Fatalf("install: %v (%s)", err, statuses(rs))
	}
	for _, g := range gs {
		if !hasKey(g, k(2)) {
			t.Fatalf("%s lacks the installed key", g.name)
		}
	}
	// One member loses the key: use is refused and names it.
	if err := gs[2].RemoveKey(k(2)); err != nil {
		t.Fatal(err)
	}
	rs, err = gs[0].ClusterKeyOp(ctx, KeyUse, k(2))
	if !errors.Is(err, ErrUseRefused) || !strings.Contains(err.Error(), "c: does not have the key") {
		t.Fatalf("use with c lacking the key: %v (%s)", err, statuses(rs))
	}
	if KeyFingerprint(gs[0].Keys()[0]) != KeyFingerprint(k(1)) {
		t.Fatal("a refused use changed the primary key")
	}
	if _, err := gs[0].ClusterKeyOp(ctx, KeyInstall, k(2)); err != nil {
		t.Fatal(err)
	}
	if rs, err = gs[0].ClusterKeyOp(ctx, KeyUse, k(2)); err != nil {
		t.Fatalf("use: %v (%s)", err, statuses(rs))
	}
	// The old key is nobody's primary now; the new one is everybody's.
	if rs, err = gs[0].ClusterKeyOp(ctx, KeyRemove, k(2)); !errors.Is(err, ErrRemoveRefused) || !errors.Is(err, ErrRemovePrimaryKey) {
		t.Fatalf("remove of the primary key: %v (%s)", err, statuses(rs))
	}
	if rs, err = gs[2].ClusterKeyOp(ctx, KeyRemove, k(1)); err != nil {
		t.Fatalf("remove: %v (%s)", err, statuses(rs))
	}
	rs, err = gs[2].ClusterKeyOp(ctx, KeyList, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !slices.Equal(r.Keys, []string{KeyFingerprint(k(2))}) {
			t.Fatalf("%s lists %v, want only the new key", r.Name, r.Keys)
		}
	}
	for _, g := range gs {
		if len(g.Members()) != 3 {
			t.Fatalf("%s sees %d members after the rotation", g.name, len(g.Members()))
		}
	}
}

func TestClusterKeyOpWithoutKeyring(t *testing.T) {
	g := start(t, "plain", nil)
	if _, err := g.ClusterKeyOp(context.Background(), KeyList, nil); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("list without keys: %v", err)
	}
	if _, err := g.ClusterKeyOp(context.Background(), KeyInstall, k(1)[:3]); err == nil || !strings.Contains(err.Error(), "3 bytes") {
		t.Fatalf("install of a 3-byte key: %v", err)
	}
}

// TestJoinBehindKeyHint: a node whose only key the cluster still accepts,
// but no longer encrypts with, is told why its join fails: a key mismatch,
// with advice (for a node alone, which it is) that names the rotation.
func TestJoinBehindKeyHint(t *testing.T) {
	cluster := keyed(t, 1, k(2), k(1)) // "a": encrypts with 2, accepts 1
	behind, err := Start(Config{Name: "z", BindAddr: "127.0.0.1:0", Memberlist: func(mc *memberlist.Config) {
		fast(mc)
		mc.Keyring, _ = memberlist.NewKeyring(nil, k(1))
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer behind.Close()
	err = behind.Connect(context.Background(), cluster[0].Addr())
	var je *joinfail.Error
	if !errors.As(err, &je) || je.Kind != joinfail.KeyMismatch || !strings.Contains(je.Kind.Advice(true), "rotated while this node was away") {
		t.Fatalf("join of a node that missed the rotation: %v, want a key mismatch with the hint", err)
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
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		del := &delegate{logger: logger, view: viewOf(
			membership.Member{Name: "a", Addr: "127.0.0.1:7001"},
			membership.Member{Name: "b", Addr: "127.0.0.1:7002"},
		)}
		kr, err := memberlist.NewKeyring(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_800_000_000, 0)
		ko := newKeyOps(del, logger, [][]byte{k(1)})
		ko.g = &Gossip{name: "b", addr: "127.0.0.1:7002", keyring: kr, kops: ko, logger: logger}
		ko.now = func() time.Time { return now }
		var ops []KeyOp
		// Peer "a", migrating with k(1): it answers every request; after
		// the commit it encrypts only if switches.
		ko.send = func(to membership.Member, b []byte) error {
			plain, err := open([][]byte{k(1)}, b)
			if err != nil {
				return err
			}
			req, err := decodeKeyMsg(plain)
			if err != nil {
				return err
			}
			ops = append(ops, req.op)
			resp := keyMsg{kind: kindResponse, op: req.op, id: req.id, from: "a", status: respDone,
				time: now.UnixNano(), keys: [][fingerprintSz]byte{fingerprint(k(1))}, plaintext: req.op == KeyEncrypt || (req.op == KeyList && !switches)}
			sealed, err := ko.sealMsg(resp, [][]byte{k(1)})
			if err != nil {
				return err
			}
			ko.handle(sealed)
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rs, err := ko.do(ctx, KeyEncrypt, nil)
		cancel()
		ko.stop()
		if !slices.Equal(ops, []KeyOp{KeyEncrypt, keyEncryptCommit, KeyList}) {
			t.Fatalf("requests sent %v, want check, commit, confirm", ops)
		}
		if len(rs) != 2 || rs[1].Name != "a" {
			t.Fatalf("replies %s", statuses(rs))
		}
		if switches {
			if err != nil || rs[1].Status != KeyAcked || rs[1].Plaintext {
				t.Fatalf("a member that switched: %v (%s, plaintext %v)", err, statuses(rs), rs[1].Plaintext)
			}
			continue
		}
		if !errors.Is(err, ErrNotAcknowledged) || rs[1].Status != KeyRefused || !strings.Contains(rs[1].Err, "still sends plaintext") {
			t.Fatalf("a member that acked but did not switch: %v (%s: %q)", err, statuses(rs), rs[1].Err)
		}
	}
}
