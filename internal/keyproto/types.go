// Package keyproto is the protocol of gencluster's cluster-wide key
// operations, apart from any transport: the wire format (sealed with a key
// of the keyring), the checks a request must pass (sender, time window,
// replay cache), the coordinator's safety rules and its catch-up ledger.
// A Host (package gossip's memberlist adapter) sends the bytes, knows the
// live members and changes the keyring.
package keyproto

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Window is how far a key request's time may be from the receiver's clock:
// requests outside it are dropped, and request IDs are remembered for
// twice as long, so that a recorded request cannot be replayed.
const Window = time.Minute

// Op is a cluster-wide key operation.
type Op uint8

// The operations.
const (
	List          Op = iota + 1 // report the keys (fingerprints)
	Install                     // add a key
	Use                         // make an installed key primary
	Remove                      // remove a key that is nobody's primary
	Encrypt                     // migration: turn the pending keys on (phase 1: check)
	EncryptCommit               // migration, phase 2: turn them on
)

func (o Op) valid() bool { return o >= List && o <= EncryptCommit }

// String is the operation's lower-case name.
func (o Op) String() string {
	switch o {
	case List:
		return "list"
	case Install:
		return "install"
	case Use:
		return "use"
	case Remove:
		return "remove"
	case Encrypt:
		return "encrypt"
	case EncryptCommit:
		return "encrypt-commit"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Status is one member's outcome of a cluster-wide key operation.
type Status int

// The outcomes.
const (
	// Acked: the member did it (or had nothing to do).
	Acked Status = iota + 1
	// Refused: the member answered with an error, or a safety rule
	// refused the operation because of this member (Err says which).
	Refused
	// Unreachable: the request could not be sent to the member.
	Unreachable
	// Timeout: the member did not answer before the context ended.
	Timeout
)

// String is the outcome's lower-case name: acked, refused, unreachable,
// timeout.
func (s Status) String() string {
	switch s {
	case Acked:
		return "acked"
	case Refused:
		return "refused"
	case Unreachable:
		return "unreachable"
	case Timeout:
		return "timeout"
	}
	return "KeyStatus(" + strconv.Itoa(int(s)) + ")"
}

// Reply is one member's reply to a key operation.
type Reply struct {
	Name   string
	Addr   string
	Status Status
	// Err says why Status is not Acked.
	Err string
	// Keys are the member's key fingerprints (Fingerprint), primary
	// first, after the operation; nil when it did not answer.
	Keys []string
	// Plaintext: the member's keys are pending (a migration), it does not
	// encrypt yet.
	Plaintext bool
}

// Errors of the key operations; none of them, nor any other error of this
// package, contains key material.
var (
	// ErrNoKeyring: the node was started without gossip encryption, so
	// there is no keyring to change. Encryption cannot be turned on (or
	// off) on a running node: it would cut the node off from its peers.
	ErrNoKeyring = errors.New("gossip encryption is not enabled (no keyring)")
	// ErrRemovePrimaryKey: removing the key that encrypts outgoing
	// messages. Make another key primary first.
	ErrRemovePrimaryKey = errors.New("cannot remove the primary key (make another key primary with Use first)")
	// ErrNotAcknowledged: the operation was sent, but not every member
	// acknowledged it (see the replies for who and why).
	ErrNotAcknowledged = errors.New("not every member acknowledged the key operation")
	// ErrUseRefused: Use was refused before anything changed, because not
	// every live member reported having the key.
	ErrUseRefused = errors.New("use refused: not every live member reported having the key installed; nothing was changed")
	// ErrRemoveRefused: Remove was refused before anything changed,
	// because the key is a member's primary key, or not every live member
	// answered.
	ErrRemoveRefused = errors.New("remove refused: the key may be a live member's primary key; nothing was changed")
	// ErrEncryptRefused: Encrypt was refused before anything changed,
	// because not every live member is migrating with the same keys.
	ErrEncryptRefused = errors.New("encrypt refused: not every live member holds the same pending keys; nothing was changed")
)

// ValidateKey checks that key can be an AES key: 16, 24 or 32 bytes
// (AES-128, AES-192, AES-256). The error names the length, never the key.
func ValidateKey(key []byte) error {
	switch len(key) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("key is %d bytes, want 16, 24 or 32 (AES-128, AES-192 or AES-256)", len(key))
}
