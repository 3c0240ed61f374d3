// Command mlnode is a hand-wired hashicorp/memberlist node: memberlist's
// Create, then a Join of the seeds retried every second until one
// succeeds, and nothing else (no discovery, no refresh loop, no re-join of
// failed members). It is the control the nemesis experiments
// (test/nemesis) run beside gencluster's node program and serf's agent,
// and test/realpeers' TestLoss beside the node program, with the same
// status endpoints and event log as examples/node, so that the same
// checks apply to it:
//
//	GET /members  the live members: [{"name","addr","state","meta"}]
//	GET /events   the last events seen, oldest first
//	GET /metrics  Prometheus metrics (Go and process collectors only)
//
// Every membership change is also logged to stderr as a JSON record with
// "msg":"event", "type" (join, update, leave, fail) and "peer", as the
// node program logs them.
//
// Flags:
//
//	-name n      node name (required)
//	-bind ip:port  gossip address (required)
//	-seeds list  comma-separated ip:port (or host:port) to join
//	-http addr   status endpoint (default :8080)
//	-fast        examples/node's -fast timers instead of DefaultLANConfig
//
// SIGTERM or SIGINT leaves the cluster (Leave, 5s) and exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// config holds the flags.
type config struct {
	name, bind, http string
	seeds            []string
	fast             bool
	suspicion        int
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	var seeds string
	fs := flag.NewFlagSet("mlnode", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.name, "name", "", "node `name` (required)")
	fs.StringVar(&c.bind, "bind", "", "gossip `ip:port`, UDP and TCP (required)")
	fs.StringVar(&seeds, "seeds", "", "comma-separated `list` of host:port to join")
	fs.StringVar(&c.http, "http", ":8080", "status endpoint `addr`ess")
	fs.BoolVar(&c.fast, "fast", false, "examples/node's -fast timers instead of memberlist.DefaultLANConfig")
	fs.IntVar(&c.suspicion, "suspicion-mult", 0, "memberlist's SuspicionMult, as examples/node's flag (0: the timers' own)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.name == "" {
		return c, errors.New("-name is required")
	}
	if c.suspicion < 0 || c.suspicion == 1 {
		return c, fmt.Errorf("-suspicion-mult %d: want 0 (the timers' own) or at least 2", c.suspicion)
	}
	host, port, err := net.SplitHostPort(c.bind)
	if err != nil || net.ParseIP(host) == nil {
		return c, fmt.Errorf("-bind %q: want ip:port", c.bind)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return c, fmt.Errorf("-bind %q: bad port: %v", c.bind, err)
	}
	for _, s := range strings.Split(seeds, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			return c, fmt.Errorf("-seeds: %q: want host:port", s)
		}
		c.seeds = append(c.seeds, s)
	}
	return c, nil
}

func run(args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "mlnode:", err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	host, portStr, _ := net.SplitHostPort(cfg.bind)
	port, _ := strconv.Atoi(portStr)

	mc := memberlist.DefaultLANConfig()
	if cfg.fast {
		fastTimers(mc)
	}
	if cfg.suspicion > 0 {
		mc.SuspicionMult = cfg.suspicion
	}
	mc.Name = cfg.name
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = host, port
	ev := newEventLog(logger)
	mc.Events = ev
	// memberlist's own log lines, as the agent prints them.
	mc.Logger = log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	evDone := make(chan struct{})
	go func() { defer close(evDone); ev.run() }()
	defer func() { ev.close(); <-evDone }()

	ml, err := memberlist.Create(mc)
	if err != nil {
		logger.Error("create", "err", err)
		stop()
		return 1
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := serve(cfg.http, ml, ev, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if err != nil {
		logger.Error("status endpoint", "addr", cfg.http, "err", err)
		_ = ml.Shutdown()
		stop()
		return 1
	}
	joinDone := make(chan struct{})
	go func() { defer close(joinDone); joinSeeds(ctx, ml, cfg.seeds, logger) }()
	logger.Info("running", "name", cfg.name, "addr", cfg.bind)

	<-ctx.Done()
	<-joinDone
	if err := ml.Leave(5 * time.Second); err != nil {
		logger.Error("leave", "err", err)
	}
	_ = ml.Shutdown()
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	logger.Info("left the cluster")
	return 0
}

// joinSeeds joins the seeds, every second, until one join succeeds or ctx
// ends: what serf's -retry-join does, and all a hand-wired program does.
func joinSeeds(ctx context.Context, ml *memberlist.Memberlist, seeds []string, logger *slog.Logger) {
	if len(seeds) == 0 {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		n, err := ml.Join(seeds)
		if n > 0 {
			logger.Info("joined", "contacted", n)
			return
		}
		logger.Info("join failed, retrying in 1s", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fastTimers are examples/node's -fast timers (failure detection in
// about a second), so that the two programs compare with the same timers.
func fastTimers(c *memberlist.Config) {
	c.ProbeInterval = 300 * time.Millisecond
	c.ProbeTimeout = 200 * time.Millisecond
	c.GossipInterval = 100 * time.Millisecond
	c.SuspicionMult = 2
	c.PushPullInterval = 5 * time.Second
	c.TCPTimeout = 2 * time.Second
	c.GossipToTheDeadTime = 2 * time.Second
	c.DeadNodeReclaimTime = time.Second
}

// memberJSON is one member as /members and /events show it (the node
// program's shape).
type memberJSON struct {
	Name  string            `json:"name"`
	Addr  string            `json:"addr"`
	State string            `json:"state"`
	Meta  map[string]string `json:"meta"`
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "failed"
	case memberlist.StateLeft:
		return "left"
	}
	return fmt.Sprintf("state(%d)", s)
}

func toJSON(n *memberlist.Node) memberJSON {
	return memberJSON{Name: n.Name, Addr: n.Address(), State: stateName(n.State), Meta: map[string]string{}}
}

// serve starts the status endpoint on addr.
func serve(addr string, ml *memberlist.Memberlist, ev *eventLog, metrics http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /members", func(w http.ResponseWriter, _ *http.Request) {
		var out []memberJSON
		for _, n := range ml.Members() { // alive and suspect
			out = append(out, toJSON(n))
		}
		slices.SortFunc(out, func(a, b memberJSON) int { return strings.Compare(a.Name, b.Name) })
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, ev.snapshot()) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
