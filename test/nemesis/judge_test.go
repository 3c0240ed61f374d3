package nemesis

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestJudgeSortsFailures(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tl := NewTimeline(5 * time.Second)
	tl.Begin("n3", Partition, at(10))
	tl.End("n3", Partition, at(20))
	tl.Started("n5", "10.0.0.5:7946", at(0))
	tl.Started("n5", "10.0.0.15:7946", at(40))
	tl.Begin("n4", Starve, at(10))
	tl.End("n4", Starve, at(60))
	evs := []LogEvent{
		{at(12), "n1", "fail", "n3", ""},               // of a partitioned node: expected
		{at(24), "n1", "fail", "n3", ""},               // within the grace: still expected
		{at(26), "n1", "fail", "n3", ""},               // after the grace: false
		{at(5), "n2", "fail", "n1", ""},                // nobody hit: false
		{at(15), "n3", "fail", "n1", ""},               // by a partitioned node
		{at(30), "n4", "fail", "n2", ""},               // by a starved node
		{at(30), "n1", "fail", "n4", ""},               // flap of a starved node
		{at(31), "n1", "join", "n4", ""},               // not a failure
		{at(32), "n3", "fail", "n4", ""},               // seen by a healthy n3: a flap too
		{at(50), "n1", "fail", "n5", "10.0.0.5:7946"},  // n5's old process: gone
		{at(51), "n1", "fail", "n5", "10.0.0.15:7946"}, // n5's new one: false
		{at(60), "n2", "fail", "n6", ""},               // false, n3 healthy at 58
		{at(27), "n2", "fail", "n7", ""},               // false, from n3 while partitioned
	}
	accs := []Accusation{
		{at(51), "n5", "n3", "dead"},   // n3 was not hit at 51: no excuse
		{at(4), "n1", "n9", "suspect"}, // n9 was partitioned then
		{at(25), "n3", "n3x", "dead"},  // about another failure
		// n6 was declared dead by n3 during its partition, then again
		// once it was healthy: the last declaration counts.
		{at(12), "n6", "n3", "marked"},
		{at(58), "n6", "n3", "marked"},
		{at(19), "n7", "n3", "marked"}, // n3 partitioned then
	}
	tl.Begin("n9", Partition, at(0))
	tl.End("n9", Partition, at(1)) // hit until 6 with the grace
	v := tl.Judge(evs, accs)
	if got := Describe(v.False); !strings.Contains(got, "n1 logged fail of n3") || !strings.Contains(got, "n2 logged fail of n1") ||
		!strings.Contains(got, "n1 logged fail of n5 at 10.0.0.15:7946") || len(v.False) != 5 {
		t.Errorf("false failures: %s", got)
	}
	if got := Describe(v.FalseFromFaulted); len(v.FalseFromFaulted) != 2 || !strings.Contains(got, "n2 logged fail of n1") || !strings.Contains(got, "n2 logged fail of n7") {
		t.Errorf("false failures from faulted accusers: %s", got)
	}
	if len(v.OfGone) != 1 || v.OfGone[0].Addr != "10.0.0.5:7946" {
		t.Errorf("of gone processes: %v", v.OfGone)
	}
	if len(v.ByStarved) != 1 || v.ByStarved[0].Observer != "n4" {
		t.Errorf("by starved: %v", v.ByStarved)
	}
	if len(v.ByFaulted) != 1 || v.ByFaulted[0].Observer != "n3" {
		t.Errorf("by faulted: %v", v.ByFaulted)
	}
	if len(v.OfFaulted) != 4 || v.OfStarvedByHealthy["n4"] != 2 || v.Flaps() != 2 {
		t.Errorf("of faulted: %v, flaps %v", v.OfFaulted, v.OfStarvedByHealthy)
	}
	if got := tl.Faults(); got[Partition] != 2 || got[Starve] != 1 {
		t.Errorf("faults: %v", got)
	}
}

func TestOpenFaultHitsUntilEnded(t *testing.T) {
	t0 := time.Now()
	tl := NewTimeline(time.Second)
	tl.Begin("n1", Loss, t0)
	if tl.Hit("n1", t0.Add(time.Hour)) != Loss {
		t.Error("an open fault stopped hitting")
	}
	if tl.Hit("n1", t0.Add(-time.Millisecond)) != "" {
		t.Error("a fault hit before it began")
	}
}

func TestFold(t *testing.T) {
	evs := []LogEvent{
		{Type: "join", Peer: "a"}, {Type: "join", Peer: "b"}, {Type: "join", Peer: "c"},
		{Type: "fail", Peer: "b"}, {Type: "update", Peer: "c"}, {Type: "leave", Peer: "a"},
		{Type: "join", Peer: "b"},
	}
	if got := Fold(evs); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("Fold = %v, want [b c]", got)
	}
}

func TestParseLogs(t *testing.T) {
	node := `2026-12-06T22:50:01.100000000Z {"time":"x","level":"INFO","msg":"running","name":"n1"}
2026-12-06T22:50:01.200000000Z {"time":"x","level":"INFO","msg":"event","type":"join","peer":"n1","addr":"10.0.0.1:7946","state":"alive"}
2026-12-06T22:50:03.300000000Z {"time":"x","level":"INFO","msg":"event","type":"fail","peer":"n2","addr":"10.0.0.2:7946","state":"failed"}
`
	evs, err := ParseEventLog("n1", node)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Type != "fail" || evs[1].Peer != "n2" || evs[1].Time.Second() != 3 {
		t.Errorf("ParseEventLog = %+v", evs)
	}
	if _, err := ParseEventLog("n1", `2026-12-06T22:50:01Z {"msg":"event","type":"join"}`); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Errorf("an event without a peer: err %v", err)
	}
	serf := `2026-12-06T22:50:01.5Z     2026/12/06 22:50:01 [INFO] serf: EventMemberJoin: s1 10.0.0.1
2026-12-06T22:50:09.5Z     2026/12/06 22:50:09 [INFO] memberlist: Marking s2 as failed, suspect timeout reached (0 peer confirmations)
2026-12-06T22:50:09.6Z     2026/12/06 22:50:09 [INFO] serf: EventMemberFailed: s2 10.0.0.2
`
	evs, err = ParseSerfLog("s1", serf)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != "join" || evs[1].Type != "fail" || evs[1].Peer != "s2" {
		t.Errorf("ParseSerfLog = %+v", evs)
	}
}

func TestParseAccusations(t *testing.T) {
	logs := `2026-12-06T23:01:31.515004024Z {"level":"WARN","msg":"Refuting a dead message (from: n4)","node":"n7","component":"memberlist"}
2026-12-06T23:01:32.058510127Z {"level":"WARN","msg":"Refuting a suspect message (from: n7)","node":"n7","component":"memberlist"}
2026-12-06T23:01:33.0Z     2026/12/06 23:01:33 [WARN] memberlist: Refuting a suspect message (from: s2)
2026-12-06T23:01:34.0Z {"level":"INFO","msg":"Marking n4 as failed, suspect timeout reached (0 peer confirmations)","node":"n7"}
`
	accs, err := ParseAccusations("n7", logs)
	if err != nil {
		t.Fatal(err)
	}
	if len(accs) != 3 || accs[0].From != "n4" || accs[0].Kind != "dead" || accs[1].From != "s2" || accs[1].Kind != "suspect" ||
		accs[2] != (Accusation{accs[2].Time, "n4", "n7", "marked"}) {
		t.Errorf("ParseAccusations = %+v (a node's refutation of its own name is skipped)", accs)
	}
}
