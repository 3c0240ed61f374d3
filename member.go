package gencluster

import "github.com/gencluster/gencluster/membership"

// Member is one node of the cluster: its Name, gossip Addr (host:port),
// Meta (set with WithMeta) and State as this node sees it.
type Member = membership.Member

// State is a member's state: StateAlive, StateDraining, StateFailed or
// StateLeft. It prints as "alive", "draining", "failed", "left". Members
// lists the live states, alive and draining (State.Live). There is no
// suspect state: memberlist does not expose its suspicion of a member,
// which counts as alive until it is declared failed.
type State = membership.State

// The member states.
const (
	StateAlive = membership.StateAlive
	// StateDraining: a live member that called Node.Drain: it is about
	// to leave and owns no work.
	StateDraining = membership.StateDraining
	StateFailed   = membership.StateFailed
	StateLeft     = membership.StateLeft
)

// Event is one change of one member, delivered by Node.Events and
// Node.Subscribe.
type Event = membership.Event

// EventType says what happened: EventJoin, EventUpdate, EventLeave (a
// graceful leave) or EventFail (declared failed by the cluster). It prints
// as "join", "update", "leave", "fail".
type EventType = membership.EventType

// The event types.
const (
	EventJoin   = membership.EventJoin
	EventUpdate = membership.EventUpdate
	EventLeave  = membership.EventLeave
	EventFail   = membership.EventFail
)
