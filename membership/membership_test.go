package membership

import (
	"encoding/json"
	"testing"
)

func TestStrings(t *testing.T) {
	m := Member{Name: "api-1", Addr: "10.0.0.2:7946", State: StateAlive}
	if got := (Event{Type: EventJoin, Member: m}).String(); got != "join api-1@10.0.0.2:7946(alive)" {
		t.Errorf("Event.String = %q", got)
	}
	for s, want := range map[State]string{StateAlive: "alive", StateFailed: "failed", StateLeft: "left", StateDraining: "draining", State(42): "State(42)"} {
		if s.String() != want {
			t.Errorf("State %d = %q, want %q", int(s), s.String(), want)
		}
	}
	for e, want := range map[EventType]string{EventJoin: "join", EventUpdate: "update", EventLeave: "leave", EventFail: "fail", EventType(9): "EventType(9)"} {
		if e.String() != want {
			t.Errorf("EventType %d = %q, want %q", int(e), e.String(), want)
		}
	}
	b, err := json.Marshal(Member{Name: "a", State: StateLeft})
	if err != nil || string(b) != `{"name":"a","addr":"","state":"left"}` {
		t.Errorf("JSON = %s, %v", b, err)
	}
}

func TestCloneAndGone(t *testing.T) {
	m := Member{Name: "a", Meta: map[string]string{"k": "v"}}
	c := m.Clone()
	c.Meta["k"] = "changed"
	if m.Meta["k"] != "v" {
		t.Fatal("Clone shares the Meta map")
	}
	for typ, gone := range map[EventType]bool{EventJoin: false, EventUpdate: false, EventLeave: true, EventFail: true} {
		if (Event{Type: typ}).Gone() != gone {
			t.Errorf("%v.Gone() != %v", typ, gone)
		}
	}
}

func TestLiveAndDrainStatus(t *testing.T) {
	for s, live := range map[State]bool{StateAlive: true, StateDraining: true, StateFailed: false, StateLeft: false, State(42): false} {
		if s.Live() != live {
			t.Errorf("%v.Live() = %v, want %v", s, s.Live(), live)
		}
	}
	for s, want := range map[DrainStatus]string{DrainAcked: "acked", DrainGone: "gone", DrainUnreachable: "unreachable", DrainTimeout: "timeout", 0: "DrainStatus(0)", 9: "DrainStatus(9)"} {
		if s.String() != want {
			t.Errorf("DrainStatus %d = %q, want %q", int(s), s.String(), want)
		}
		if s.Done() != (s == DrainAcked || s == DrainGone) {
			t.Errorf("%v.Done() = %v", s, s.Done())
		}
	}
	b, err := json.Marshal(DrainReply{Name: "a", Status: DrainTimeout, Err: "no answer"})
	if err != nil || string(b) != `{"name":"a","addr":"","status":"timeout","err":"no answer"}` {
		t.Errorf("JSON = %s, %v", b, err)
	}
}
