package vsim

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The CPU cost overrides: each replaces one figure of every profile run
// (negative: the profile's own, from cpu_costs.go).
var (
	flagCPUPacket  = flag.Duration("cpu-packet", -1, "override CPU.Packet: cost of a packet with one message")
	flagCPUMessage = flag.Duration("cpu-message", -1, "override CPU.Message: cost of each further message of a compound packet")
	flagCPUStream  = flag.Duration("cpu-stream", -1, "override CPU.Stream: fixed cost of an inbound stream")
	flagCPUSend    = flag.Duration("cpu-send", -1, "override CPU.Send: per member of a push-pull state sent")
	flagCPURecv    = flag.Duration("cpu-recv", -1, "override CPU.Recv: per member of a push-pull state received")
	flagCPULearn   = flag.Duration("cpu-learn", -1, "override CPU.Learn: per member learned")
)

// cpuFlags returns the -cpu profiles in order and their costs with the
// -cpu-* overrides applied ("off" is never overridden: it is the free
// mode kept for comparison). For Defaults the costs hold the profiles it
// stands for (ProfileOf), under their own names.
func cpuFlags() ([]string, map[string]CPU, error) {
	var names []string
	costs := map[string]CPU{}
	for _, name := range strings.Split(*flagCPU, ",") {
		name = strings.TrimSpace(name)
		for _, impl := range Impls {
			p := ProfileOf(name, impl)
			c, err := profileWithOverrides(p)
			if err != nil {
				return nil, nil, fmt.Errorf("-cpu %q: %w", *flagCPU, err)
			}
			costs[p] = c
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, costs, nil
}

// profileWithOverrides returns the named profile's costs with the -cpu-*
// overrides applied, except to "off".
func profileWithOverrides(name string) (CPU, error) {
	c, err := CPUProfile(name)
	if err != nil || name == "off" {
		return c, err
	}
	for _, o := range []struct {
		v   time.Duration
		dst *time.Duration
	}{{*flagCPUPacket, &c.Packet}, {*flagCPUMessage, &c.Message}, {*flagCPUStream, &c.Stream}, {*flagCPUSend, &c.Send}, {*flagCPURecv, &c.Recv}, {*flagCPULearn, &c.Learn}} {
		if o.v >= 0 {
			*o.dst = o.v
		}
	}
	return c, nil
}

// variant is one implementation with one seeding.
type variant struct {
	impl Impl
	raw  int // the baseline's seeds
	g    int // gencluster's: 0 registry, K static
}

// variantFlags returns, from -impl, -raw-seeds and -g-seeds, the variants
// to run at a size n ("all" is n).
func variantFlags() (func(n int) []variant, error) {
	parse := func(name, s string, registry bool) ([]int, error) {
		var out []int
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "all":
				out = append(out, -1)
			case f == "registry" && registry:
				out = append(out, 0)
			default:
				k, err := strconv.Atoi(f)
				if err != nil || k < 1 {
					return nil, fmt.Errorf("-%s %q: %q is neither all%s nor a positive integer", name, s, f, map[bool]string{true: ", registry", false: ""}[registry])
				}
				out = append(out, k)
			}
		}
		return out, nil
	}
	raw, err := parse("raw-seeds", *flagRawSeeds, false)
	if err != nil {
		return nil, err
	}
	g, err := parse("g-seeds", *flagGSeeds, true)
	if err != nil {
		return nil, err
	}
	var impls []Impl
	for _, s := range strings.Split(*flagImpl, ",") {
		i := Impl(strings.TrimSpace(s))
		if i != Gencluster && i != Raw {
			return nil, fmt.Errorf("-impl %q: %q is neither %s nor %s", *flagImpl, s, Gencluster, Raw)
		}
		impls = append(impls, i)
	}
	return func(n int) []variant {
		at := func(k int) int {
			if k < 0 || k > n {
				return n
			}
			return k
		}
		var out []variant
		for _, i := range impls {
			if i == Raw {
				for _, k := range raw {
					out = append(out, variant{impl: Raw, raw: at(k)})
				}
				continue
			}
			for _, k := range g {
				out = append(out, variant{impl: Gencluster, g: at(k)})
			}
		}
		return out
	}, nil
}

// TestSetFlags: the recorded command line, parsed again, sets every flag
// to its recorded value, a false bool flag followed by others included.
func TestSetFlags(t *testing.T) {
	fs := flag.NewFlagSet("vsim", flag.ContinueOnError)
	partition := fs.Bool("partition", true, "")
	n := fs.String("n", "8", "")
	if err := fs.Parse([]string{"-partition=false", "-n", "100"}); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	args := strings.Fields(setFlags(fs, m))
	*partition, *n = true, "8"
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if *partition || *n != "100" || fs.NArg() != 0 {
		t.Errorf("%q parsed back to -partition=%v -n %s and %d stray arguments", args, *partition, *n, fs.NArg())
	}
	if m["partition"] != "false" || m["n"] != "100" {
		t.Errorf("recorded flags %v", m)
	}
}
