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

var opNames = [...]string{List: "list", Install: "install", Use: "use", Remove: "remove", Encrypt: "encrypt", EncryptCommit: "encrypt-commit"}

// String is the operation's lower-case name.
func (o Op) String() string {
	if o.valid() {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Status is one member's outcome of a key operation (the root package's
// KeyStatus, which documents the values).
type Status int

// The outcomes.
const (
	Acked       Status = iota + 1 // done, or nothing to do
	Refused                       // answered with an error, or a safety rule refused it
	Unreachable                   // the request could not be sent
	Timeout                       // no answer before the context ended
)

var statusNames = [...]string{Acked: "acked", Refused: "refused", Unreachable: "unreachable", Timeout: "timeout"}

// String is the outcome's lower-case name: acked, refused, unreachable,
// timeout.
func (s Status) String() string {
	if s >= Acked && s <= Timeout {
		return statusNames[s]
	}
	return "KeyStatus(" + strconv.Itoa(int(s)) + ")"
}

// Reply is one member's reply to a key operation (the root package's
// KeyReply, which documents the fields).
type Reply struct {
	Name, Addr string
	Status     Status
	Err        string   // why Status is not Acked
	Keys       []string // fingerprints, primary first; nil without an answer
	Plaintext  bool     // the keys are pending (a migration): no encryption yet
}

// The errors, documented where the root package exports them. None of
// them, nor any other error of this package, contains key material.
var (
	ErrNoKeyring        = errors.New("gossip encryption is not enabled (no keyring)")
	ErrRemovePrimaryKey = errors.New("cannot remove the primary key (make another key primary with Use first)")
	ErrNotAcknowledged  = errors.New("not every member acknowledged the key operation")
	ErrUseRefused       = errors.New("use refused: not every live member reported having the key installed; nothing was changed")
	ErrRemoveRefused    = errors.New("remove refused: the key may be a live member's primary key; nothing was changed")
	ErrEncryptRefused   = errors.New("encrypt refused: not every live member holds the same pending keys; nothing was changed")
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
