package membership

import (
	"fmt"
	"strconv"
)

// BootID tells two lives of one member name apart, as an Erlang node's
// creation does: every Start of a node draws a new random, non-zero
// BootID, and the node gossips it with its metadata. A member seen again
// under the same name and address but with another BootID is a restarted
// process (its peers report the old life's EventFail, then the new one's
// EventJoin). Zero means unknown: a member running a gencluster version
// older than BootIDs, or a Dist that does not report them.
type BootID uint64

// String returns the id as 16 hexadecimal digits, or "unknown" for zero.
func (b BootID) String() string {
	if b == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%016x", uint64(b))
}

// MarshalText encodes the id as its 16 hexadecimal digits (JSON numbers
// above 2^53 lose precision in JavaScript, so it is not a number).
func (b BootID) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "%016x", uint64(b)), nil
}

// UnmarshalText decodes 16 hexadecimal digits.
func (b *BootID) UnmarshalText(text []byte) error {
	if len(text) != 16 {
		return fmt.Errorf("boot id %q: want 16 hexadecimal digits", text)
	}
	v, err := strconv.ParseUint(string(text), 16, 64)
	if err != nil {
		return fmt.Errorf("boot id %q: want 16 hexadecimal digits", text)
	}
	*b = BootID(v)
	return nil
}
