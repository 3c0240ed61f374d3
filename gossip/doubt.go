package gossip

import (
	"math"
	"time"

	"github.com/hashicorp/memberlist"
)

// Doubted failures. memberlist applies a dead message at a member's
// current incarnation as final. A member cut off by a partition suspects
// the members it cannot reach, and its suspicions outlive the partition:
// a successful probe does not end one, only a refutation does, and the
// accused cannot refute a suspicion it never heard of (the suspect
// messages went out while the network was cut). So after the heal the
// suspicion times out and its dead message reaches members that still
// hold the accused alive at that incarnation, and those report the failure
// of a member that never stopped; it refutes as soon as it hears of it,
// and they report it joined again 10 to 100 ms later (docs/reliability.md,
// "a dead message carried across a healed partition").
//
// Such a message comes from a member that was itself cut off, and so was
// declared failed here, or was about to be: within memberlist's longest
// suspicion (or GossipToTheDeadTime, the time a cut-off member keeps
// sending to those it declared dead, if longer) after that failure, or
// after the cut-off member came back. So for that long, plus a hold's time
// for the message to spread, after this node saw a member fail or a gone
// member return, a removal the member did not announce is doubted: held
// (hold.go) while the member is asked directly whether it is alive. One
// that does not answer within memberlist's ProbeTimeout is reported failed
// then; one that answers is reported only if it has not refuted the
// removal within holdTime.
//
// Outside those windows (a crash in a quiet cluster) a failure is reported
// the moment memberlist declares it, so crash detection is unchanged;
// inside them a true failure is reported one ProbeTimeout later.

// doubtTimers are the memberlist timers the doubt window is made of.
type doubtTimers struct {
	probe, gossipToTheDead, hold time.Duration
	suspicionMult, maxMult       int
}

func newDoubtTimers(mc *memberlist.Config, hold time.Duration) doubtTimers {
	return doubtTimers{probe: mc.ProbeInterval, gossipToTheDead: mc.GossipToTheDeadTime, hold: hold,
		suspicionMult: mc.SuspicionMult, maxMult: mc.SuspicionMaxTimeoutMult}
}

// window is how long removals are doubted after a failure or a return in
// a cluster of n members: memberlist's longest suspicion at n (its
// suspicionTimeout scaled by SuspicionMaxTimeoutMult, which is where an
// unconfirmed suspicion ends) or GossipToTheDeadTime, whichever is
// longer, plus a hold's time. Zero timers (a delegate without an adapter)
// doubt nothing.
func (t doubtTimers) window(n int) time.Duration {
	if t.probe <= 0 {
		return 0
	}
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	suspicion := time.Duration(float64(max(t.suspicionMult, 1)*max(t.maxMult, 1)) * scale * float64(t.probe))
	return max(suspicion, t.gossipToTheDead) + t.hold
}

// openDoubtLocked notes that a member failed, or a gone member came back,
// at now: removals are doubted for a window from then.
func (d *delegate) openDoubtLocked(now time.Time) {
	until := now.Add(d.doubt.window(d.view.Len()))
	if until.After(d.doubtUntil) {
		d.doubtUntil = until
	}
}

// doubtfulLocked reports whether a failure memberlist declares at now is
// doubted.
func (d *delegate) doubtfulLocked(now time.Time) bool {
	return now.Before(d.doubtUntil)
}
