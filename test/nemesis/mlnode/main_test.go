package main

import (
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-name", "a", "-bind", "10.0.0.1:7946", "-seeds", "10.0.0.2:7946, b:7946,"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.name != "a" || !slices.Equal(c.seeds, []string{"10.0.0.2:7946", "b:7946"}) || c.http != ":8080" || c.fast {
		t.Errorf("parseFlags = %+v", c)
	}
	if c, err := parseFlags([]string{"-name", "a", "-bind", "10.0.0.1:1", "-fast", "-suspicion-mult", "4"}, io.Discard); err != nil || !c.fast || c.suspicion != 4 {
		t.Errorf("-fast -suspicion-mult 4: %+v, %v", c, err)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"-bind", "10.0.0.1:7946"}, "-name is required"},
		{[]string{"-name", "a", "-bind", "host:7946"}, `-bind "host:7946"`},
		{[]string{"-name", "a", "-bind", "10.0.0.1:99999"}, `-bind "10.0.0.1:99999"`},
		{[]string{"-name", "a", "-bind", "10.0.0.1:1", "-seeds", "nope"}, `"nope"`},
		{[]string{"-name", "a", "-bind", "10.0.0.1:1", "extra"}, "unexpected arguments"},
		{[]string{"-name", "a", "-bind", "10.0.0.1:1", "-suspicion-mult", "1"}, "-suspicion-mult 1"},
	} {
		if _, err := parseFlags(bad.args, io.Discard); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseFlags(%q) = %v, want an error naming %s", bad.args, err, bad.want)
		}
	}
}

// TestEventLog: memberlist's callbacks are queued and logged in order; a
// leave is "leave" when the node left and "fail" when it died; run
// returns on close after logging what was queued.
func TestEventLog(t *testing.T) {
	var out strings.Builder
	ev := newEventLog(slog.New(slog.NewJSONHandler(&out, nil)))
	done := make(chan struct{})
	go func() { defer close(done); ev.run() }()
	node := func(name string, s memberlist.NodeStateType) *memberlist.Node {
		return &memberlist.Node{Name: name, Addr: net.IPv4(10, 0, 0, 1), Port: 7946, State: s}
	}
	ev.NotifyJoin(node("a", memberlist.StateAlive))
	ev.NotifyUpdate(node("a", memberlist.StateAlive))
	ev.NotifyLeave(node("a", memberlist.StateLeft))
	ev.NotifyJoin(node("b", memberlist.StateAlive))
	ev.NotifyLeave(node("b", memberlist.StateDead))
	ev.close()
	<-done
	var got []string
	for _, e := range ev.snapshot() {
		got = append(got, e.Type+" "+e.Member.Name+" "+e.Member.State)
	}
	want := []string{"join a alive", "update a alive", "leave a left", "join b alive", "fail b failed"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	if n := strings.Count(out.String(), `"msg":"event"`); n != 5 {
		t.Errorf("logged %d event records, want 5:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), `"type":"fail","peer":"b","addr":"10.0.0.1:7946"`) {
		t.Errorf("the fail record lacks the node program's keys:\n%s", out.String())
	}
}
