package meshdist

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gencluster/gencluster"
)

// connID identifies one connection for the life of a Dist.
type connID uint64

// maxConnsPerPeer bounds the connections to one peer. Two can exist when
// both sides dial each other at once; both are kept (heartbeats flow on
// each), which is simpler than agreeing on one, and a third closes the
// oldest.
const maxConnsPerPeer = 2

// table is the failure detector's state: the members and their
// connections, and the rules that turn connection changes into events. It
// does no I/O and has no clock (silence is detected by each connection's
// read deadline), so its rules are tested directly. The Dist guards it
// with its mutex and carries out the effects.
type table struct {
	self    gencluster.Member
	selfVer uint64 // the version of self.Meta, raised by every change
	peers   map[string]*peer
}

// A peer's metadata comes with its version: a handshake on a second
// connection may carry metadata older than an update already read on the
// first, and must not undo it.
type peer struct {
	m     gencluster.Member
	ver   uint64   // of m.Meta
	conns []connID // oldest first
}

// effects is what a change asks the Dist to do, in order: publish the
// events, close the connections, and dial redial (when set) once.
type effects struct {
	events []gencluster.Event
	close  []connID
	redial *gencluster.Member
}

func newTable(self gencluster.Member) table {
	return table{self: self, peers: map[string]*peer{}}
}

// admit decides whether a handshake with m may complete: it may not claim
// this node's name, nor the name of a live member at another address. The
// same name at the same address with a new boot id is a restart, and is
// admitted. A conflict's error wraps gencluster.ErrNameConflict and says
// who holds the name.
func (t *table) admit(m gencluster.Member) error {
	if m.Name == t.self.Name {
		if m.Boot == t.self.Boot {
			return fmt.Errorf("%s is this node (%s)", m.Addr, m.Name)
		}
		return conflict(t.self)
	}
	if p, ok := t.peers[m.Name]; ok && p.m.Boot != m.Boot && p.m.Addr != m.Addr {
		return conflict(p.m)
	}
	return nil
}

// conflictError is a refusal of a name held by a live member. It is
// gencluster.ErrNameConflict for errors.Is, and its text crosses the wire
// in a refuse frame, so that the refused node's error names the holder.
type conflictError struct{ msg string }

func (e *conflictError) Error() string        { return e.msg }
func (e *conflictError) Is(target error) bool { return target == gencluster.ErrNameConflict }

func conflict(holder gencluster.Member) error {
	return &conflictError{fmt.Sprintf("name conflict: %q is held by the live member at %s (boot %v)", holder.Name, holder.Addr, holder.Boot)}
}

// register adds a connection to m, which admit accepted. A new name is a
// join; a known name with a new boot id is the restart of that member,
// reported as a failure of the old life and a join of the new one. ver is
// the version of m.Meta.
func (t *table) register(m gencluster.Member, ver uint64, id connID) effects {
	var eff effects
	m.State = gencluster.StateAlive
	p, ok := t.peers[m.Name]
	if ok && p.m.Boot != m.Boot {
		eff = t.remove(p, gencluster.EventFail)
		ok = false
	}
	if !ok {
		t.peers[m.Name] = &peer{m: m.Clone(), ver: ver, conns: []connID{id}}
		eff.events = append(eff.events, gencluster.Event{Type: gencluster.EventJoin, Member: m.Clone()})
		return eff
	}
	p.conns = append(p.conns, id)
	if len(p.conns) > maxConnsPerPeer {
		eff.close = append(eff.close, p.conns[0])
		p.conns = p.conns[1:]
	}
	eff.events = append(eff.events, p.setMeta(m.Meta, ver)...) // an update not read yet
	return eff
}

// owner returns the peer whose live connection id is, if any: a connection
// of a member that left, failed or restarted no longer speaks for it.
func (t *table) owner(name string, id connID) *peer {
	if p, ok := t.peers[name]; ok && slices.Contains(p.conns, id) {
		return p
	}
	return nil
}

// down removes a connection that closed. When it was the peer's last, the
// peer is to be dialed again: it stays a member until that dial fails.
func (t *table) down(name string, id connID) effects {
	p := t.owner(name, id)
	if p == nil {
		return effects{}
	}
	p.conns = slices.DeleteFunc(p.conns, func(c connID) bool { return c == id })
	if len(p.conns) > 0 {
		return effects{}
	}
	m := p.m.Clone()
	return effects{redial: &m}
}

// redialFailed reports the peer failed if it is still the life that was
// dialed and no connection came back meanwhile (it may have dialed us).
func (t *table) redialFailed(name string, boot gencluster.BootID) effects {
	p, ok := t.peers[name]
	if !ok || p.m.Boot != boot || len(p.conns) > 0 {
		return effects{}
	}
	return t.remove(p, gencluster.EventFail)
}

// goodbye reports the peer that said goodbye on connection id as left.
func (t *table) goodbye(name string, id connID) effects {
	p := t.owner(name, id)
	if p == nil {
		return effects{}
	}
	return t.remove(p, gencluster.EventLeave)
}

// update sets the metadata of the peer that sent it on connection id, if
// newer than what the table has.
func (t *table) update(name string, id connID, meta map[string]string, ver uint64) effects {
	p := t.owner(name, id)
	if p == nil {
		return effects{}
	}
	return effects{events: p.setMeta(meta, ver)}
}

// setMeta applies metadata of version ver if it is newer, and returns the
// update event when the metadata changed.
func (p *peer) setMeta(meta map[string]string, ver uint64) []gencluster.Event {
	if ver <= p.ver {
		return nil
	}
	p.ver = ver
	if maps.Equal(p.m.Meta, meta) {
		return nil
	}
	p.m.Meta = maps.Clone(meta)
	return []gencluster.Event{{Type: gencluster.EventUpdate, Member: p.m.Clone()}}
}

// setSelfMeta changes this node's metadata, and returns its version.
func (t *table) setSelfMeta(meta map[string]string) uint64 {
	t.self.Meta = maps.Clone(meta)
	t.selfVer++
	return t.selfVer
}

// remove drops p with a leave or fail event and closes its connections.
func (t *table) remove(p *peer, typ gencluster.EventType) effects {
	delete(t.peers, p.m.Name)
	m := p.m.Clone()
	m.State = gencluster.StateFailed
	if typ == gencluster.EventLeave {
		m.State = gencluster.StateLeft
	}
	return effects{events: []gencluster.Event{{Type: typ, Member: m}}, close: p.conns}
}

// members returns this node and the live peers, sorted by name.
func (t *table) members() []gencluster.Member {
	out := []gencluster.Member{t.self.Clone()}
	for _, p := range t.peers {
		out = append(out, p.m.Clone())
	}
	slices.SortFunc(out, func(a, b gencluster.Member) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// hints returns the peers other than skip, for a handshake or an
// announcement: whom the other side should connect to.
func (t *table) hints(skip string) []hint {
	var out []hint
	for _, p := range t.peers {
		if p.m.Name != skip {
			out = append(out, hint{Name: p.m.Name, Addr: p.m.Addr})
		}
	}
	return out
}

// knows reports whether a hinted member needs no dial: it is this node, a
// member by that name, or a member at that address.
func (t *table) knows(h hint) bool {
	if h.Name == t.self.Name || h.Addr == t.self.Addr {
		return true
	}
	if _, ok := t.peers[h.Name]; ok {
		return true
	}
	for _, p := range t.peers {
		if p.m.Addr == h.Addr {
			return true
		}
	}
	return false
}

// addrLive reports whether addr is this node's or a live member's.
func (t *table) addrLive(addr string) bool {
	return t.knows(hint{Addr: addr})
}
