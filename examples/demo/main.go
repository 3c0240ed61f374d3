// Command demo starts a cluster of gencluster nodes in one process on the
// loopback interface, with no setup: it prints the events one node sees and
// the members table, crashes a node and shows the others detect the
// failure, then makes another leave gracefully.
//
//	go run ./examples/demo
//	go run ./examples/demo -n 8 -v
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

func main() {
	n := flag.Int("n", 5, "number of nodes (at least 3)")
	verbose := flag.Bool("v", false, "log what the nodes do (slog, to stderr)")
	flag.Parse()
	if err := run(*n, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demoTimers shortens memberlist's LAN failure detection from several
// seconds to about one, so the demo does not keep you waiting. Production
// nodes keep memberlist's defaults.
func demoTimers(c *memberlist.Config) {
	c.ProbeInterval = 300 * time.Millisecond
	c.ProbeTimeout = 150 * time.Millisecond
	c.GossipInterval = 50 * time.Millisecond
	c.SuspicionMult = 2
}

func run(count int, verbose bool) error {
	if count < 3 {
		return fmt.Errorf("-n %d: need at least 3 nodes", count)
	}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var nodes []*gencluster.Node
	defer func() {
		for _, nd := range nodes {
			nd.Close()
		}
	}()
	for i := range count {
		opts := []gencluster.Option{
			gencluster.WithName(fmt.Sprintf("node-%d", i)),
			gencluster.WithBindAddr("127.0.0.1:0"), // a free port each
			gencluster.WithMeta(map[string]string{"role": []string{"api", "worker"}[i%2]}),
			gencluster.WithRefreshInterval(time.Second),
			gencluster.WithMemberlistConfig(demoTimers),
			gencluster.WithLogger(logger.With("demo_node", i)),
		}
		if i > 0 {
			// Every node is seeded with node-0, as a static seed list
			// or one DNS name would do.
			opts = append(opts, gencluster.WithSeeds(seeds.Static(nodes[0].Addr())))
		}
		nd, err := gencluster.Start(ctx, opts...)
		if err != nil {
			return err
		}
		nodes = append(nodes, nd)
		fmt.Printf("started %s on %s\n", nd.Name(), nd.Addr())
	}

	watcher := nodes[0]
	events := watcher.Events()
	fmt.Printf("\nevents seen by %s:\n", watcher.Name())
	if err := waitEvents(events, count, func(ev gencluster.Event) bool { return ev.Type == gencluster.EventJoin }); err != nil {
		return err
	}
	printMembers(watcher)

	crashed := nodes[count-2]
	fmt.Printf("\ncrashing %s (Close: no leave message)...\n", crashed.Name())
	crashed.Close()
	if err := waitEvents(events, 1, func(ev gencluster.Event) bool {
		return ev.Type == gencluster.EventFail && ev.Member.Name == crashed.Name()
	}); err != nil {
		return err
	}

	leaver := nodes[count-1]
	fmt.Printf("\n%s leaves gracefully (Leave)...\n", leaver.Name())
	if err := leaver.Leave(ctx); err != nil {
		return err
	}
	if err := waitEvents(events, 1, func(ev gencluster.Event) bool {
		return ev.Type == gencluster.EventLeave && ev.Member.Name == leaver.Name()
	}); err != nil {
		return err
	}
	printMembers(watcher)

	for _, nd := range nodes {
		if err := nd.Leave(ctx); err != nil {
			return err
		}
	}
	fmt.Println("\nall nodes left; bye")
	return nil
}

// waitEvents prints events until want of them matched.
func waitEvents(events <-chan gencluster.Event, want int, match func(gencluster.Event) bool) error {
	timeout := time.After(20 * time.Second)
	for want > 0 {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("event stream closed")
			}
			fmt.Printf("  %-7s %-8s %s\n", ev.Type, ev.Member.Name, ev.Member.Addr)
			if match(ev) {
				want--
			}
		case <-timeout:
			return fmt.Errorf("timed out waiting for events")
		}
	}
	return nil
}

func printMembers(nd *gencluster.Node) {
	fmt.Printf("\nmembers according to %s:\n", nd.Name())
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  NAME\tADDRESS\tSTATE\tBOOT\tMETA")
	for _, m := range nd.Members() {
		var meta []string
		for k, v := range m.Meta {
			meta = append(meta, k+"="+v)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.State, m.Boot, strings.Join(meta, ","))
	}
	w.Flush()
}
