package joinfail

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a failed join: the address, what the failure shows, and the
// cause on one line. Its text names the address once.
type Error struct {
	Addr  string
	Kind  Kind
	Cause string // flattened: one line, without the address
}

// Error is "join ADDR: DIAGNOSIS: CAUSE".
func (e *Error) Error() string {
	return fmt.Sprintf("join %s: %s: %s", e.Addr, e.Kind, e.Cause)
}

// Wrap turns the error of a join of addr into an *Error, its text
// flattened (see Flatten).
// An *Error in err's chain is returned as it is.
func Wrap(addr string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	cause := Flatten(addr, err.Error())
	k := KindOf(err)
	if k == Unknown {
		k = Classify(cause) // memberlist's multierror ends in newlines
	}
	return &Error{Addr: addr, Kind: k, Cause: cause}
}

// Flatten makes one line of a join error's text: memberlist's multierror
// ("1 error occurred:\n\t* failed to join ADDR: CAUSE\n\n") becomes its
// causes, joined with "; ", each without the "failed to join ADDR: "
// prefix (the caller names the address once).
func Flatten(addr, text string) string {
	var parts []string
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasSuffix(line, "error occurred:") || strings.HasSuffix(line, "errors occurred:") {
			continue
		}
		line = strings.TrimPrefix(line, "* ")
		line = strings.TrimPrefix(line, "failed to join "+addr+": ")
		// The address is the caller's to name: drop memberlist's
		// "from=ADDR", a dial error's "dial tcp ADDR:" and a read
		// error's "read tcp LOCAL->ADDR:".
		line = strings.ReplaceAll(line, " from="+addr, "")
		line = strings.ReplaceAll(line, " "+addr+": ", ": ")
		line = strings.ReplaceAll(line, "->"+addr+": ", ": ")
		parts = append(parts, line)
	}
	if len(parts) == 0 {
		return strings.TrimSpace(text)
	}
	return strings.Join(parts, "; ")
}
