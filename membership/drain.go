package membership

import "strconv"

// DrainStatus is one member's outcome of a drain (Node.Drain): whether
// it acknowledged that its view holds the draining node as draining.
type DrainStatus int

// The outcomes. The zero value is no outcome yet.
const (
	// DrainAcked: the member's view holds the draining node as draining
	// (with the node's current boot id), and it said so.
	DrainAcked DrainStatus = iota + 1
	// DrainGone: the member left or failed before it acknowledged; it
	// owns nothing that needs telling.
	DrainGone
	// DrainUnreachable: the last request could not be sent to the
	// member before the drain's context ended.
	DrainUnreachable
	// DrainTimeout: the member did not acknowledge before the drain's
	// context ended (Err says whether it answered that its view does
	// not hold the drain yet).
	DrainTimeout
)

var drainStatusNames = [...]string{DrainAcked: "acked", DrainGone: "gone", DrainUnreachable: "unreachable", DrainTimeout: "timeout"}

// String is the outcome's lower-case name: acked, gone, unreachable,
// timeout.
func (s DrainStatus) String() string {
	if s >= DrainAcked && s <= DrainTimeout {
		return drainStatusNames[s]
	}
	return "DrainStatus(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the status as its String form.
func (s DrainStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Done reports whether the status needs no more waiting: the member
// acknowledged, or is gone.
func (s DrainStatus) Done() bool { return s == DrainAcked || s == DrainGone }

// DrainReply is one member's outcome of a drain.
type DrainReply struct {
	// Name and Addr are the member's, as the draining node's view held
	// it when it asked.
	Name string `json:"name"`
	Addr string `json:"addr"`
	// Status is the outcome.
	Status DrainStatus `json:"status"`
	// Err says why Status is not DrainAcked; empty when it is.
	Err string `json:"err,omitempty"`
}
