package gossip

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/internal/view"
	"github.com/gencluster/gencluster/membership"
)

// delegate is memberlist's Delegate (it supplies our metadata), its
// EventDelegate (it turns node changes into events) and its
// ConflictDelegate (claims.go).
type delegate struct {
	// view is the membership view (Config.View): every event is
	// published to it, and it is the delegate's record of who is live.
	view    *view.View
	onKeyOp func([]byte) // key operation messages (keyops.go)
	onDrain func([]byte) // drain messages (drain.go)
	logger  *slog.Logger
	self    string // this node's name
	life    life   // this node's boot id and start time, fixed at Start

	// mu orders the callbacks and the hold timers: every decision that
	// reads the view and the event that follows it are taken under it.
	mu   sync.Mutex
	meta []byte // encoded local metadata, in encoding wire
	// handed is the metadata NodeMeta last returned: what memberlist
	// holds and gossips for this node (localupdate.go).
	handed []byte
	wire   byte // the metadata encoding sent (metaV1 or metaV2, wire.go)
	// oldReaders are the live members that read only metaV1, and
	// wireKick wakes wireLoop when they change (wire.go).
	oldReaders map[string]struct{}
	wireKick   chan struct{}
	user       map[string]string // local metadata as given
	flags      byte              // local flags (flagLeaving, flagDraining): they only grow
	// leavingPeers are the live members that told this node directly
	// (msgLeaving) that they are leaving, with the boot id the notice
	// named (see Gossip.Leave).
	leavingPeers map[string]uint64
	// goneAt is when each member that left or failed did, for as long
	// as memberlist keeps its name (see reclaim.go).
	goneAt map[string]time.Time
	// claims are the addresses that claimed a live member's name, by
	// name: a restart that came before the old process was declared
	// failed looks like that, and so does a name thief (see claims.go).
	claims map[string]claim
	// held are the removals not yet reported: of members whose name
	// another address claimed recently (hold.go), and doubted ones
	// (doubt.go).
	held map[string]*heldEvent
	// doubt are the timers that size the window in which removals are
	// doubted (zero: none are), and doubtUntil the end of the current
	// window (doubt.go).
	doubt      doubtTimers
	doubtUntil time.Time
	// onReclaim, when set, is told (under memberlist's node lock: it
	// must not block) that a node at addr claims the name of a member
	// that left or failed at gone.
	onReclaim func(name, addr string, gone time.Time)
	// onHold, when set, is told (under memberlist's node lock: it must
	// not block) that the removal of member m is held; it must call
	// releaseHeld(m.Name, h) later (hold.go).
	onHold func(m membership.Member, h *heldEvent)
	// onSelfConflict, when set, is told (under memberlist's node lock:
	// it must not block) that a node at addr, of life id, has this
	// node's name (nameguard.go).
	onSelfConflict func(addr string, id life)
	// onLocalApplied, when set, is told (under memberlist's node lock:
	// it must not block) that memberlist applied an update of this
	// node's metadata (localupdate.go).
	onLocalApplied func()
}

// msgLeaving is the first byte of the user message a leaving node sends
// every member over TCP before memberlist's leave: msgLeaving, its boot
// id (8 bytes, big-endian), its name. The leaving flag in the metadata
// alone is not enough: in memberlist's broadcast queues the leave (a dead
// message about the same node) invalidates the metadata update it
// follows, so members that were to hear of the update only through a
// relay hear of the leave alone and would report a failure. The boot id
// keeps a node that has a live member's name (a name thief) from making
// that member's later failure look like a leave.
const msgLeaving byte = 0x6c // 'l'

// msgLeavingOld is msgLeaving without the boot id, as gencluster
// versions before boot ids send it: 'L' and the name.
const msgLeavingOld byte = 0x4c // 'L'

// leavingMsg is the msgLeaving message for name in life boot.
func leavingMsg(name string, boot uint64) []byte {
	return append(binary.BigEndian.AppendUint64([]byte{msgLeaving}, boot), name...)
}

// setMeta sets the local metadata to meta, with the flags set so far and
// flags added: a flag, once set, stays set (a draining node that updates
// its metadata, or leaves, is still draining).
func (d *delegate) setMeta(meta map[string]string, flags byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	flags |= d.flags
	b, err := encodeMeta(meta, flags, d.life, d.wire)
	if err != nil {
		return err
	}
	d.meta, d.user, d.flags = b, maps.Clone(meta), flags
	return nil
}

// setFlag adds flag to the local metadata.
func (d *delegate) setFlag(flag byte) error {
	d.mu.Lock()
	user := d.user
	d.mu.Unlock()
	return d.setMeta(user, flag)
}

func (d *delegate) setLeaving() error { return d.setFlag(flagLeaving) }

// draining reports whether this node set flagDraining.
func (d *delegate) draining() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flags&flagDraining != 0
}

// member converts a memberlist node. leaving reports the leaving flag. A
// live node (s StateAlive) that gossips the draining flag is
// StateDraining.
func (d *delegate) member(n *memberlist.Node, s membership.State) (m membership.Member, leaving bool) {
	meta, flags, id, err := decodeMeta(n.Meta)
	if err != nil {
		// A peer running another version, or a hostile one: keep the
		// member (memberlist accepted it) but not its metadata.
		d.logger.Warn("undecodable member metadata", "peer", n.Name, "addr", n.Address(), "err", err)
	}
	if s == membership.StateAlive && flags&flagDraining != 0 {
		s = membership.StateDraining
	}
	return membership.Member{Name: n.Name, Addr: n.Address(), Meta: meta, State: s, Boot: membership.BootID(id.boot)}, flags&flagLeaving != 0
}

// NodeMeta returns the encoded local metadata. Start and UpdateMeta refuse
// metadata over the limit, so it always fits.
func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil // unreachable: checked by encodeMeta
	}
	d.handed = d.meta
	return d.meta
}

// metaHanded reports whether memberlist already holds the current local
// metadata: an update would announce nothing new.
func (d *delegate) metaHanded() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Equal(d.meta, d.handed)
}

// NotifyMsg hands key operation messages (msgKeyOp) to keyops.go and
// drain messages (msgDrain) to drain.go, and records leaving notices for live members only (so a flood of names
// cannot grow the map). memberlist passes messages that passed its key
// and label checks.
func (d *delegate) NotifyMsg(b []byte) {
	if len(b) > 0 && b[0] == msgKeyOp && d.onKeyOp != nil {
		d.onKeyOp(b)
		return
	}
	if len(b) > 0 && b[0] == msgDrain && d.onDrain != nil {
		d.onDrain(b)
		return
	}
	var name string
	var boot uint64
	switch {
	case len(b) >= 10 && b[0] == msgLeaving:
		boot, name = binary.BigEndian.Uint64(b[1:9]), string(b[9:])
	case len(b) >= 2 && b[0] == msgLeavingOld:
		name = string(b[1:])
	default:
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.view.Member(name); !ok {
		return
	}
	if d.leavingPeers == nil {
		d.leavingPeers = make(map[string]uint64)
	}
	d.leavingPeers[name] = boot
}

// noticedLocked reports whether m told this node it is leaving: a notice
// naming m's boot id, or one without a boot id when either side does not
// know it (a peer of an older version).
func (d *delegate) noticedLocked(m membership.Member) bool {
	boot, ok := d.leavingPeers[m.Name]
	return ok && (boot == uint64(m.Boot) || boot == 0 || m.Boot == 0)
}

// GetBroadcasts has nothing to send.
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState has no state to push: gencluster gossips membership only.
func (d *delegate) LocalState(bool) []byte { return nil }

// MergeRemoteState has no state to merge.
func (d *delegate) MergeRemoteState([]byte, bool) {}

// NotifyJoin runs under memberlist's node lock: convert, queue, return.
// Events are queued under d.mu, so that the ones hold.go releases later
// stay in order with these.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	m, _ := d.member(n, membership.StateAlive)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.noteReaderLocked(n)
	delete(d.leavingPeers, m.Name) // a new incarnation
	if _, gone := d.goneAt[m.Name]; gone {
		d.openDoubtLocked(time.Now())
	}
	delete(d.goneAt, m.Name)
	if h, ok := d.held[m.Name]; ok {
		delete(d.held, m.Name)
		if h.ev.Member.Addr == m.Addr && h.ev.Member.Boot == m.Boot {
			// The same life refuted its removal: it never went.
			d.logger.Info("a member refuted its removal before it was reported: not reported", "peer", m.Name, "addr", m.Addr, "held_because", h.why)
			d.emitLocked(membership.Event{Type: membership.EventUpdate, Member: m})
			return
		}
		d.emitLocked(h.ev)
	}
	d.emitLocked(membership.Event{Type: membership.EventJoin, Member: m})
}

// NotifyUpdate runs under memberlist's node lock. An update that changes
// nothing a user can see (a refuted suspicion, the internal leaving flag)
// is not an event: the view drops it. An update that carries another boot
// id than the member had is a restart under the same name and address
// (memberlist sees only newer metadata): the old life is reported failed,
// the new one joined.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	if n.Name == d.self && d.onLocalApplied != nil {
		d.onLocalApplied()
	}
	m, _ := d.member(n, membership.StateAlive)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.noteReaderLocked(n)
	old, ok := d.view.Member(m.Name)
	if ok && old.Boot != 0 && m.Boot != 0 && old.Boot != m.Boot {
		delete(d.leavingPeers, m.Name)
		delete(d.held, m.Name)
		old.State = membership.StateFailed
		d.emitLocked(membership.Event{Type: membership.EventFail, Member: old})
		d.emitLocked(membership.Event{Type: membership.EventJoin, Member: m})
		return
	}
	d.emitLocked(membership.Event{Type: membership.EventUpdate, Member: m})
}

// NotifyLeave runs under memberlist's node lock. A node that gossiped the
// leaving flag, or told this node directly, before going left; any other
// was declared failed. memberlist's dead messages name a node but not its
// address: while another node claims the member's name (a name thief),
// its leave or failure would remove the real member. So a removal that
// the member did not announce itself is held while a claim on its name
// is recent, and dropped if the member refutes it (hold.go). So is one
// that comes just after a partition or failure, when it may be a cut-off
// member's stale dead message (doubt.go).
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	m, leaving := d.member(n, membership.StateFailed)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgetReaderLocked(m.Name)
	leaving = leaving || d.noticedLocked(m)
	delete(d.leavingPeers, m.Name)
	now := time.Now()
	d.noteGoneLocked(m.Name, now)
	c, claimed := d.claims[m.Name]
	delete(d.claims, m.Name)
	fresh := claimed && now.Sub(c.at) < claimTTL
	if fresh && d.onReclaim != nil {
		d.onReclaim(m.Name, c.addr, now)
	}
	ev := membership.Event{Type: membership.EventFail, Member: m}
	if leaving {
		ev.Type, ev.Member.State = membership.EventLeave, membership.StateLeft
	}
	var why string
	switch {
	case leaving:
	case fresh && c.addr != m.Addr:
		why = "another node claimed its name"
	case d.doubtfulLocked(now):
		why = "declared failed soon after another failure or return: possibly a cut-off member's stale dead message"
	}
	if !leaving {
		d.openDoubtLocked(now)
	}
	if why != "" && d.onHold != nil {
		if _, already := d.held[m.Name]; !already {
			h := &heldEvent{ev: ev, why: why}
			if d.held == nil {
				d.held = make(map[string]*heldEvent)
			}
			d.held[m.Name] = h
			d.onHold(m, h)
			return
		}
	}
	delete(d.held, m.Name)
	d.emitLocked(ev)
}

// members returns the live members the callbacks reported, sorted by
// name.
func (d *delegate) members() []membership.Member { return d.view.Members() }

// lookup returns the live member called name. Its Meta must not be
// modified.
func (d *delegate) lookup(name string) (membership.Member, bool) { return d.view.Member(name) }

// local returns this node: as memberlist reported it, or, before its own
// join callback, from the local metadata.
func (d *delegate) local(name, addr string) membership.Member {
	if m, ok := d.view.Member(name); ok {
		return m.Clone()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := membership.StateAlive
	if d.flags&flagDraining != 0 {
		s = membership.StateDraining
	}
	return membership.Member{Name: name, Addr: addr, Meta: maps.Clone(d.user), State: s, Boot: membership.BootID(d.life.boot)}
}

// emitLocked publishes ev to the view; it runs with d.mu held, which
// orders the events of the callbacks and of the hold timers. The view
// drops an event that changes nothing (see view.Publish).
func (d *delegate) emitLocked(ev membership.Event) { d.view.Publish(ev) }

// othersLive reports whether any live member other than self is known.
func (d *delegate) othersLive(self string) bool { return d.view.Others(self) }
