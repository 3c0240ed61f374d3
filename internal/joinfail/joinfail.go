// Package joinfail tells why a node could not join another, from what
// the failure looks like: the joining side's error, or the line the
// refusing side's memberlist logs. It turns memberlist v0.7.0's messages
// (net.go, security.go: read there what each failure prints) into a Kind,
// and gives each Kind a one-line diagnosis and advice worded for the side
// that reads it.
package joinfail

import (
	"errors"
	"net"
	"strings"
	"syscall"
)

// Kind is the cause of a failed join, as far as the failure shows it.
type Kind int

// The kinds, most telling first: Worst picks the first of a set.
const (
	// KeyMismatch: both nodes encrypt, with keys the other lacks.
	KeyMismatch Kind = iota + 1
	// PeerEncrypts: the peer encrypts and this node does not.
	PeerEncrypts
	// PeerPlaintext: this node encrypts and the peer does not.
	PeerPlaintext
	// LabelMismatch: the peer closed the stream without answering, which
	// is what memberlist does to a stream with another label.
	LabelMismatch
	// NotGossip: something that is not memberlist answered.
	NotGossip
	// Refused: nothing listens at the address.
	Refused
	// Unreachable: no answer before the timeout, or no route.
	Unreachable
	// Unknown: none of the above.
	Unknown
)

// String is the diagnosis in a few words, stable for logs and probes.
func (k Kind) String() string {
	switch k {
	case KeyMismatch:
		return "key mismatch"
	case PeerEncrypts, PeerPlaintext:
		return "encryption mismatch"
	case LabelMismatch:
		return "label mismatch"
	case NotGossip:
		return "not a gossip port"
	case Refused:
		return "refused"
	case Unreachable:
		return "unreachable"
	}
	return "join error"
}

// Mismatch reports whether the kind shows the two nodes configured apart
// (key, encryption, label, or the address is not a gossip port), as
// opposed to a peer that is down or cut off.
func (k Kind) Mismatch() bool { return k >= KeyMismatch && k <= NotGossip }

// Detail says what the failure showed, one clause.
func (k Kind) Detail() string {
	switch k {
	case KeyMismatch:
		return "the peer encrypts with a key this node does not have"
	case PeerEncrypts:
		return "the peer encrypts gossip and this node has no key"
	case PeerPlaintext:
		return "this node encrypts gossip and the peer does not"
	case LabelMismatch:
		return "the peer closed the connection without answering, as memberlist does to another cluster label"
	case NotGossip:
		return "the peer answered, but not with memberlist's protocol"
	case Refused:
		return "nothing listens at that address"
	case Unreachable:
		return "no answer before the timeout"
	}
	return "the join failed"
}

// Advice says who must do what. alone is whether the reader of the advice
// (this node) runs without any other member: then it is the odd one out,
// and the change is to be made to this node; a node of a running cluster
// is told that the other node must change.
func (k Kind) Advice(alone bool) string {
	const thatNode = "; nothing to change on this node"
	switch k {
	case KeyMismatch:
		if alone {
			return "this node's key is not the cluster's (was the cluster's key rotated while this node was away?): restart this node with the cluster's key (docs/keys.md)"
		}
		return "that node's key is not this cluster's: restart that node with the cluster's key (docs/keys.md)" + thatNode
	case PeerEncrypts:
		if alone {
			return "the cluster is encrypted: restart this node with the cluster's key (WithSecretKey, GENCLUSTER_SECRET_KEY)"
		}
		return "that node encrypts and this cluster does not: restart that node without a key, or move this cluster to encryption (docs/keys.md)" + thatNode
	case PeerPlaintext:
		if alone {
			return "the peer does not encrypt: if the cluster runs in plaintext, restart this node without a key or move the cluster to encryption (docs/keys.md)"
		}
		return "that node does not encrypt and this cluster does: restart that node with the cluster's key" + thatNode
	case LabelMismatch:
		if alone {
			return "this node's label (WithLabel, GENCLUSTER_LABEL) is not the peer's, or the address is not a gossip port: restart this node with the cluster's label"
		}
		return "that node has another label (WithLabel, GENCLUSTER_LABEL), or the address is not its gossip port: restart that node with this cluster's label" + thatNode
	case NotGossip:
		return "the address is not a gossip port: fix the discovery configuration (its port)"
	case Refused:
		return "the peer is down or listens on another port: start it, or fix the discovery configuration (its port)"
	case Unreachable:
		return "check that the peer runs and that the network lets gossip through (TCP and UDP, both ways)"
	}
	return "see the error"
}

// Classify returns the Kind that an error text shows. text is the joining
// side's error, or a line memberlist logs on the refusing side (a
// memberlist message reads the same from either side: "remote state is
// encrypted" always means the other node encrypts).
func Classify(text string) Kind {
	switch {
	case strings.Contains(text, "no installed keys could decrypt"):
		return KeyMismatch
	case strings.Contains(text, "remote state is encrypted and encryption is not configured"):
		return PeerEncrypts
	case strings.Contains(text, "encryption is configured but remote state is not encrypted"):
		return PeerPlaintext
	case strings.Contains(text, "unacceptable label"),
		strings.HasSuffix(text, ": EOF"), text == "EOF",
		strings.Contains(text, "connection reset by peer"):
		return LabelMismatch
	case strings.Contains(text, "received invalid msgType"),
		strings.Contains(text, "unsupported encryption version"):
		return NotGossip
	case strings.Contains(text, "connection refused"):
		return Refused
	case strings.Contains(text, "i/o timeout"), strings.Contains(text, "deadline exceeded"),
		strings.Contains(text, "no route to host"), strings.Contains(text, "network is unreachable"),
		strings.Contains(text, "host is down"):
		return Unreachable
	}
	return Unknown
}

// KindOf returns the Kind of a failed join's error: the Error's own, or
// one read from the error's chain and text.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.As(err, &ne) && ne.Timeout():
		return Unreachable
	}
	return Classify(err.Error())
}

// Worst returns the most telling of kinds (see the order of the
// constants), or Unknown for none.
func Worst(kinds ...Kind) Kind {
	w := Unknown
	for _, k := range kinds {
		if k > 0 && k < w {
			w = k
		}
	}
	return w
}
