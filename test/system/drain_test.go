//go:build system

package system

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/testing/dockertest"
)

// TestDrainOnSIGTERM (issue 21, Drain): SIGTERM makes a node drain before
// it leaves (examples/node). Every other node lists it as draining while
// it is still a member (its /members, and an update event with state
// draining), the drainer logs that all of them acknowledged, and then
// every other node sees it leave, not fail. The outcomes are asserted;
// the times are printed as FIGURE lines with the load average, never
// asserted.
func TestDrainOnSIGTERM(t *testing.T) {
	c := newCluster(t, nodes)
	c.waitWhole("converged", convergeTimeout)
	victim := c.names[3]
	rest := without(c.names, victim)

	signalled := time.Now()
	mustDocker(t, "kill", "--signal", "TERM", victim)
	seenAll := c.watchDraining(victim, rest, failTimeout)

	if code := mustDocker(t, "wait", victim); code != "0" {
		t.Errorf("%s exited with %s after SIGTERM, want 0", victim, code)
	}
	exited := time.Since(signalled)
	rec := drainedRecord(t, victim)
	if rec["acked"] != float64(len(rest)) || rec["gone"] != 0.0 || rec["timeout"] != 0.0 || rec["unreachable"] != 0.0 || rec["level"] != "INFO" {
		t.Errorf("%s logged %v, want INFO with acked %d and no gone, timeout or unreachable", victim, rec, len(rest))
	}

	left := c.waitFor("the others drop the drained node with a leave", failTimeout, func() error {
		if err := c.ViewIs(rest, rest); err != nil {
			return err
		}
		for _, o := range rest {
			seq, err := c.eventsAbout(o, victim)
			if err != nil {
				return err
			}
			// join, then draining, then left: never alive again in
			// between, never failed.
			if !strings.HasSuffix(seq, "update:draining leave:left") || strings.Contains(seq, "fail") {
				return fmt.Errorf("%s saw %s as %q, want ... update:draining leave:left", o, victim, seq)
			}
		}
		return nil
	})
	c.names = rest
	c.checkNoFalseFailures(rest, nil)

	load := dockertest.LoadAvg()
	t.Logf("measured: SIGTERM to all %d others listing %s draining %s; drainer's Drain %vms (its own clock); exit %s; leave seen by all %s after the exit; load %s",
		len(rest), victim, secs(seenAll), rec["elapsed_ms"], secs(exited), secs(left), load)
	fmt.Printf("FIGURE drain_signal_to_all_draining_%d=%.3fs\n", nodes, seenAll.Seconds())
	fmt.Printf("FIGURE drain_acked_%d=%vms\n", nodes, rec["elapsed_ms"])
	fmt.Printf("FIGURE drain_signal_to_exit_%d=%.3fs\n", nodes, exited.Seconds())
	fmt.Printf("FIGURE drain_loadavg=%s\n", load)
}

// watchDraining polls every observer's /members (every 20 ms, all at
// once) until each has listed victim as draining, and returns how long
// that took. An observer that already dropped victim when it is polled
// (the drainer left between two polls) counts when its /events holds the
// update to draining: the outcome asserted is that it saw the drain.
func (c *cluster) watchDraining(victim string, observers []string, timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []string
	for _, o := range observers {
		wg.Go(func() {
			var last error
			for end := start.Add(timeout); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				states, err := c.States(o)
				if err != nil {
					last = err
					continue
				}
				switch s, listed := states[victim]; {
				case s == "draining":
					return
				case !listed:
					seq, err := c.eventsAbout(o, victim)
					if err == nil && strings.Contains(seq, "update:draining") {
						return
					}
					last = fmt.Errorf("%s dropped %s without an update to draining (events %q, err %v)", o, victim, seq, err)
				default:
					last = fmt.Errorf("%s lists %s as %s", o, victim, s)
				}
			}
			mu.Lock()
			errs = append(errs, fmt.Sprintf("%s: %v", o, last))
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		c.t.Fatalf("not every node listed %s as draining within %v: %s", victim, timeout, strings.Join(errs, "; "))
	}
	took := time.Since(start)
	c.t.Logf("every other node listed %s as draining: after %v", victim, took.Round(time.Millisecond))
	return took
}

// eventsAbout returns the events observer logged about peer, as
// "type:state" words.
func (c *cluster) eventsAbout(observer, peer string) (string, error) {
	evs, err := c.events(observer)
	if err != nil {
		return "", err
	}
	var seq []string
	for _, e := range evs {
		if e.Member.Name == peer {
			seq = append(seq, e.Type+":"+e.Member.State)
		}
	}
	return strings.Join(seq, " "), nil
}

// drainedRecord returns the "drained" log record of the node program in
// container name.
func drainedRecord(t *testing.T, name string) map[string]any {
	t.Helper()
	logs, err := exec.Command("docker", "logs", name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs %s: %v", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "drained" {
			return rec
		}
	}
	t.Fatalf("%s logged no \"drained\" record", name)
	return nil
}
