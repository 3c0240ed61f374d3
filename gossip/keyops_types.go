package gossip

import "strconv"

// The types of the cluster-wide key operations (keyops.go).

// KeyOp is a cluster-wide key operation.
type KeyOp uint8

// The operations.
const (
	KeyList          KeyOp = iota + 1 // report the keys (fingerprints)
	KeyInstall                        // add a key
	KeyUse                            // make an installed key primary
	KeyRemove                         // remove a key that is nobody's primary
	KeyEncrypt                        // migration: turn the pending keys on (phase 1: check)
	keyEncryptCommit                  // migration, phase 2: turn them on
)

func (o KeyOp) valid() bool { return o >= KeyList && o <= keyEncryptCommit }

// String is the operation's lower-case name.
func (o KeyOp) String() string {
	switch o {
	case KeyList:
		return "list"
	case KeyInstall:
		return "install"
	case KeyUse:
		return "use"
	case KeyRemove:
		return "remove"
	case KeyEncrypt:
		return "encrypt"
	case keyEncryptCommit:
		return "encrypt-commit"
	}
	return "KeyOp(" + strconv.Itoa(int(o)) + ")"
}

// KeyStatus is one member's outcome of a key operation.
type KeyStatus uint8

// The outcomes.
const (
	KeyAcked       KeyStatus = iota + 1 // done (or nothing to do)
	KeyRefused                          // the member answered with an error, or a safety rule refused it
	KeyUnreachable                      // the request could not be sent
	KeyTimeout                          // no answer before the deadline
)

// String is the outcome's lower-case name.
func (s KeyStatus) String() string {
	switch s {
	case KeyAcked:
		return "acked"
	case KeyRefused:
		return "refused"
	case KeyUnreachable:
		return "unreachable"
	case KeyTimeout:
		return "timeout"
	}
	return "KeyStatus(" + strconv.Itoa(int(s)) + ")"
}

// KeyReply is one member's reply to a key operation.
type KeyReply struct {
	Name   string
	Addr   string
	Status KeyStatus
	// Err says why Status is not KeyAcked.
	Err string
	// Keys are the member's key fingerprints (KeyFingerprint), primary
	// first, after the operation; nil when it did not answer.
	Keys []string
	// Plaintext: the member's keys are pending (WithKeyringMigration), it
	// does not encrypt yet.
	Plaintext bool
}
