package drainproto

import "time"

// The answerer's catch-up. The drain itself travels by gossip: memberlist
// sends a metadata broadcast a bounded number of times, to random
// members, over UDP. A member it never reached learns of the drain only
// at its next periodic push-pull (30 s or more at the LAN defaults), and
// the asker would wait that long for its answer. So a member that has
// answered "not yet" to one drain for PullAfter pulls the asker's state
// itself (a push-pull with the asker), once per PullAfter at most: its
// view then holds what the asker says of itself, and the next request is
// answered "seen".

// forgetLag is how long an asker that stopped asking is remembered.
const forgetLag = 10 * time.Minute

// lag is one asker this node has been answering "not yet".
type lag struct {
	id      ID        // the drain call being answered
	since   time.Time // the first "not yet" to it
	pulled  time.Time // the last pull started; zero: none
	pulling bool      // a pull is in flight
}

// noteLag records the answer to asker's request id, and starts a pull of
// the asker's state when this node has been answering "not yet" to that
// drain for PullAfter, and did not pull from it for as long.
func (e *Endpoint) noteLag(asker Peer, id ID, seen bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if seen {
		delete(e.lagging, asker.Name)
		return
	}
	now := e.now()
	l := e.lagging[asker.Name]
	if l == nil || l.id != id {
		// A new drain: a new wait. The map holds askers that were live
		// (a request from a name the view lacks is dropped before);
		// those that left before this node saw them drain are
		// forgotten after a while.
		for name, old := range e.lagging {
			if now.Sub(old.since) > forgetLag && !old.pulling {
				delete(e.lagging, name)
			}
		}
		e.lagging[asker.Name] = &lag{id: id, since: now}
		return
	}
	if l.pulling || now.Sub(l.since) < e.pullAfter || (!l.pulled.IsZero() && now.Sub(l.pulled) < e.pullAfter) || e.down {
		return
	}
	l.pulling, l.pulled = true, now
	e.wg.Go(func() {
		err := e.host.Pull(asker)
		if err != nil {
			e.logger.Debug("drain: pull of the asker's state failed", "peer", asker.Name, "addr", asker.Addr, "err", err)
		} else {
			e.logger.Debug("drain: pulled the asker's state: gossip had not brought the drain", "peer", asker.Name, "addr", asker.Addr)
		}
		e.mu.Lock()
		l.pulling = false
		e.mu.Unlock()
	})
}
