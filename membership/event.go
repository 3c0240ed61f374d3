package membership

import "fmt"

// EventType says what happened to a member.
type EventType int

// The event types. A member's events arrive in the order they happened.
const (
	// EventJoin: the member joined (or re-joined after failing or leaving).
	EventJoin EventType = iota
	// EventUpdate: the member's metadata, address or state changed (it
	// began draining: StateDraining).
	EventUpdate
	// EventLeave: the member left gracefully.
	EventLeave
	// EventFail: the cluster declared the member failed.
	EventFail
)

// String returns "join", "update", "leave" or "fail".
func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// MarshalText encodes the type as its String form.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Event is one change of one member.
type Event struct {
	Type   EventType `json:"type"`
	Member Member    `json:"member"`
	// Version is the version of the Node's membership view once this
	// event was applied to it: the number /members reports in its
	// Gencluster-View-Version header when this change is the latest.
	// Each change advances the view's version by one, so a stream read
	// without lag sees 1, 2, 3...; a stream that coalesced (its reader
	// fell behind) skips the versions of the events it merged, and a
	// member's merged event carries the version of its latest change.
	// Events of different members may then arrive out of version order
	// (see Node.Events). Zero when the event did not come from a view
	// (an event a Dist emits, before the Node applies it).
	Version uint64 `json:"version,omitempty"`
}

// String returns "join api-1@10.0.0.2:7946(alive)".
func (e Event) String() string { return e.Type.String() + " " + e.Member.String() }

// Gone reports whether the event takes the member out of the members list.
func (e Event) Gone() bool { return e.Type == EventLeave || e.Type == EventFail }
