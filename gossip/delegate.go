package gossip

import (
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster/membership"
)

// delegate is memberlist's Delegate (it supplies our metadata), its
// EventDelegate (it turns node changes into events) and its
// ConflictDelegate (it logs name conflicts).
type delegate struct {
	onEvent func(membership.Event)
	logger  *slog.Logger

	mu    sync.Mutex
	meta  []byte                       // encoded local metadata
	user  map[string]string            // local metadata as given
	known map[string]membership.Member // last event per live member, to drop no-op updates
	// leavingPeers are the live members that told this node directly
	// (msgLeaving) that they are leaving; see Gossip.Leave.
	leavingPeers map[string]bool
	// goneAt is when each member that left or failed did, for as long
	// as memberlist keeps its name (see reclaim.go).
	goneAt map[string]time.Time
	// onReclaim, when set, is told (under memberlist's node lock: it
	// must not block) that a node at addr claims the name of a member
	// that left or failed at gone.
	onReclaim func(name, addr string, gone time.Time)
}

// msgLeaving is the first byte of the user message a leaving node sends
// every member over TCP before memberlist's leave: msgLeaving followed by
// its name. The leaving flag in the metadata alone is not enough: in
// memberlist's broadcast queues the leave (a dead message about the same
// node) invalidates the metadata update it follows, so members that were
// to hear of the update only through a relay hear of the leave alone and
// would report a failure.
const msgLeaving byte = 0x4c // 'L'

// leavingMsg is the msgLeaving message for name.
func leavingMsg(name string) []byte { return append([]byte{msgLeaving}, name...) }

func (d *delegate) setMeta(meta map[string]string, flags byte) error {
	b, err := encodeMeta(meta, flags)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.meta, d.user = b, maps.Clone(meta)
	d.mu.Unlock()
	return nil
}

func (d *delegate) setLeaving() error {
	d.mu.Lock()
	user := d.user
	d.mu.Unlock()
	return d.setMeta(user, flagLeaving)
}

// member converts a memberlist node. leaving reports the leaving flag.
func (d *delegate) member(n *memberlist.Node, s membership.State) (m membership.Member, leaving bool) {
	meta, flags, err := decodeMeta(n.Meta)
	if err != nil {
		// A peer running another version, or a hostile one: keep the
		// member (memberlist accepted it) but not its metadata.
		d.logger.Warn("undecodable member metadata", "peer", n.Name, "addr", n.Address(), "err", err)
	}
	return membership.Member{Name: n.Name, Addr: n.Address(), Meta: meta, State: s}, flags&flagLeaving != 0
}

// NodeMeta returns the encoded local metadata. Start and UpdateMeta refuse
// metadata over the limit, so it always fits.
func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil // unreachable: checked by encodeMeta
	}
	return d.meta
}

// GetBroadcasts, LocalState and MergeRemoteState are unused: gencluster
// gossips membership only.

// NotifyMsg handles the only user message gencluster sends, msgLeaving,
// recorded for live members only (so a flood of names cannot grow the
// map). memberlist passes messages that passed its key and label checks.
func (d *delegate) NotifyMsg(b []byte) {
	if len(b) < 2 || b[0] != msgLeaving {
		return
	}
	name := string(b[1:])
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.known[name]; !ok {
		return
	}
	if d.leavingPeers == nil {
		d.leavingPeers = make(map[string]bool)
	}
	d.leavingPeers[name] = true
}

// GetBroadcasts has nothing to send.
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState has no state to push.
func (d *delegate) LocalState(bool) []byte { return nil }

// MergeRemoteState has no state to merge.
func (d *delegate) MergeRemoteState([]byte, bool) {}

// NotifyJoin runs under memberlist's node lock: convert, queue, return.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	m, _ := d.member(n, membership.StateAlive)
	d.mu.Lock()
	d.known[m.Name] = m
	delete(d.leavingPeers, m.Name) // a new incarnation
	delete(d.goneAt, m.Name)
	d.mu.Unlock()
	d.emit(membership.Event{Type: membership.EventJoin, Member: m})
}

// NotifyUpdate runs under memberlist's node lock. An update that changes
// nothing a user can see (a refuted suspicion, the internal leaving flag)
// is not an event.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	m, _ := d.member(n, membership.StateAlive)
	d.mu.Lock()
	old, ok := d.known[m.Name]
	d.known[m.Name] = m
	d.mu.Unlock()
	if ok && old.Addr == m.Addr && maps.Equal(old.Meta, m.Meta) {
		return
	}
	d.emit(membership.Event{Type: membership.EventUpdate, Member: m})
}

// NotifyLeave runs under memberlist's node lock. A node that gossiped the
// leaving flag before going left; any other was declared failed.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	m, leaving := d.member(n, membership.StateFailed)
	d.mu.Lock()
	leaving = leaving || d.leavingPeers[m.Name]
	delete(d.known, m.Name)
	delete(d.leavingPeers, m.Name)
	d.noteGoneLocked(m.Name, time.Now())
	d.mu.Unlock()
	ev := membership.Event{Type: membership.EventFail, Member: m}
	if leaving {
		ev.Type, ev.Member.State = membership.EventLeave, membership.StateLeft
	}
	d.emit(ev)
}

// NotifyConflict runs under memberlist's node lock when a node claims the
// name of a member from another address. memberlist keeps the member it
// knows (existing) and ignores the claim. A claim on a live member's name
// is only logged, with the claimant's address. A claim on the name of a
// member that left or failed is a restart under the same name that came
// before memberlist's DeadNodeReclaimTime: it is handed to onReclaim,
// which joins the claimant again once the name may be reclaimed.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.mu.Lock()
	_, live := d.known[existing.Name]
	gone, wasGone := d.goneAt[existing.Name]
	d.mu.Unlock()
	if !live && wasGone && d.onReclaim != nil {
		d.logger.Debug("a restarted node claims a failed member's name; joining it again once the name may be reclaimed",
			"peer", other.Name, "addr", other.Address(), "member_addr", existing.Address())
		d.onReclaim(other.Name, other.Address(), gone)
		return
	}
	d.logger.Warn("name conflict: another node claims a live member's name; keeping the member",
		"peer", other.Name, "addr", other.Address(), "member_addr", existing.Address())
}

// maxGone bounds goneAt: past it the oldest entries go (their names are
// long reclaimable).
const maxGone = 1024

func (d *delegate) noteGoneLocked(name string, at time.Time) {
	if d.goneAt == nil {
		d.goneAt = make(map[string]time.Time)
	}
	if len(d.goneAt) >= maxGone {
		oldest, first := "", time.Time{}
		for n, t := range d.goneAt {
			if first.IsZero() || t.Before(first) {
				oldest, first = n, t
			}
		}
		delete(d.goneAt, oldest)
	}
	d.goneAt[name] = at
}

// members returns the live members the callbacks reported.
func (d *delegate) members() []membership.Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]membership.Member, 0, len(d.known))
	for _, m := range d.known {
		out = append(out, m.Clone())
	}
	return out
}

// local returns this node: as memberlist reported it, or, before its own
// join callback, from the local metadata.
func (d *delegate) local(name, addr string) membership.Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m, ok := d.known[name]; ok {
		return m.Clone()
	}
	return membership.Member{Name: name, Addr: addr, Meta: maps.Clone(d.user), State: membership.StateAlive}
}

func (d *delegate) emit(ev membership.Event) {
	if d.onEvent != nil {
		d.onEvent(ev)
	}
}

// othersLive reports whether any live member other than self is known.
func (d *delegate) othersLive(self string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name := range d.known {
		if name != self {
			return true
		}
	}
	return false
}
