package nemesis

import (
	"bufio"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ParseEventLog reads the membership events out of `docker logs -t` of a
// gencluster node program or of mlnode: lines of Docker's RFC 3339
// timestamp, a space, and a JSON log record; the records with
// "msg":"event" are events. Other lines are skipped; an event record that
// does not decode is an error naming the line.
func ParseEventLog(observer, logs string) ([]LogEvent, error) {
	var out []LogEvent
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		ts, rec, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.Contains(rec, `"msg":"event"`) {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("%s: log line %q: %v", observer, sc.Text(), err)
		}
		var r struct {
			Msg, Type, Peer, Addr string
		}
		if err := json.Unmarshal([]byte(rec), &r); err != nil || r.Msg != "event" || r.Type == "" || r.Peer == "" {
			return nil, fmt.Errorf("%s: event record %q: %v", observer, rec, err)
		}
		out = append(out, LogEvent{Time: t, Observer: observer, Type: r.Type, Peer: r.Peer, Addr: r.Addr})
	}
	return out, sc.Err()
}

// serfEvent matches serf's agent log line for a member event:
// "... [INFO] serf: EventMemberFailed: n3 10.1.2.3".
var serfEvent = regexp.MustCompile(`serf: EventMember(Join|Leave|Failed|Update|Reap): (\S+) (\S+)`)

// serfTypes maps serf's event names to the node program's.
var serfTypes = map[string]string{"Join": "join", "Leave": "leave", "Failed": "fail", "Update": "update", "Reap": "reap"}

// ParseSerfLog reads the member events out of `docker logs -t` of a serf
// agent (its log lines, each after Docker's timestamp).
func ParseSerfLog(observer, logs string) ([]LogEvent, error) {
	var out []LogEvent
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		m := serfEvent.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ts, _, _ := strings.Cut(sc.Text(), " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("%s: log line %q: %v", observer, sc.Text(), err)
		}
		out = append(out, LogEvent{Time: t, Observer: observer, Type: serfTypes[m[1]], Peer: m[2], Addr: m[3]})
	}
	return out, sc.Err()
}

// Accusation is a suspicion or a failure of a node that it refuted, with
// the member the accusation came from (memberlist relays suspect and dead
// messages with their originator's name).
type Accusation struct {
	Time    time.Time
	Accused string // the node that refuted
	From    string // who suspected it or declared it dead
	Kind    string // "suspect" or "dead"
}

// refuting matches memberlist's log line of a refutation (the node
// program and mlnode log it; serf too).
var refuting = regexp.MustCompile(`Refuting an? (suspect|dead) message \(from: ([^)\s]+)\)`)

// marking matches memberlist's log line of a member it declares dead
// itself: the origin of a dead message.
var marking = regexp.MustCompile(`Marking (\S+) as failed, suspect timeout reached`)

// ParseAccusations reads out of `docker logs -t` of node the
// refutations it logged (Kind "suspect" or "dead", From the accuser) and
// the members it declared dead itself (Kind "marked", From node).
func ParseAccusations(node, logs string) ([]Accusation, error) {
	var out []Accusation
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var a Accusation
		if m := refuting.FindStringSubmatch(sc.Text()); m != nil && m[2] != node {
			a = Accusation{Accused: node, From: m[2], Kind: m[1]}
		} else if m := marking.FindStringSubmatch(sc.Text()); m != nil {
			a = Accusation{Accused: m[1], From: node, Kind: "marked"}
		} else {
			continue
		}
		ts, _, _ := strings.Cut(sc.Text(), " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("%s: log line %q: %v", node, sc.Text(), err)
		}
		a.Time = t
		out = append(out, a)
	}
	return out, sc.Err()
}
