// Command node is a small, production-shaped gencluster node: the program
// the Docker and Kubernetes examples run, and the system tests drive.
//
// Cluster configuration comes from the GENCLUSTER_* environment variables
// (see gencluster.FromEnv); the flags only configure the program:
//
//	-http addr          status endpoint (default :8080; "" disables it)
//	-drain-timeout d    bound on the drain after SIGTERM, before the leave (default 10s; 0: no drain)
//	-leave-timeout d    bound on the graceful leave after SIGTERM (default 10s)
//	-start-timeout d    bound on the initial join (default 30s)
//	-log-level level    debug, info, warn or error (default info)
//	-min-members n      cluster size at which the cluster has formed: /readyz turns
//	                    200 then, and stays 200 when members fail later (default 1)
//	-snapshot path      keep a member snapshot there, to rejoin after a full outage
//	                    (gencluster.WithSnapshot; overrides GENCLUSTER_SNAPSHOT)
//	-fast               short memberlist timers, for tests only
//	-suspicion-mult n   memberlist's SuspicionMult (default: the timers' own, 4 for LAN, 2 with -fast)
//	-keys-api addr      serve the cluster key API (keys.go) on addr; off by default.
//	                    It changes the cluster's gossip keys: never expose it
//
// It logs JSON to stderr (one "event" record per membership change) and
// serves, on the status port:
//
//	GET /members  the live members: [{"name","addr","state","meta","boot"}] (Node.Handler)
//	GET /healthz  200 while the node runs; 503 before it has joined, while it is
//	              isolated (it cannot join the peers discovery lists), while a live
//	              member that started earlier has its name, and once it has left
//	              (Node.Handler)
//	GET /readyz   200 from the first time it sees -min-members members, also when
//	              members fail later; 503 before, while isolated, once it drains
//	              and once it has left (Node.Handler)
//	GET /events   the last events seen, oldest first
//	GET /metrics  Prometheus metrics (gencluster.WithMetrics, Go and process collectors)
//
// SIGTERM or SIGINT drains the node (Node.Drain: every member sees it
// draining and moves its work off it; the result is logged as one
// "drained" record, drain.go), then leaves the cluster gracefully (the
// others see a leave, not a failure) and exits 0; SIGKILL is a crash, which the others
// detect as a failure. A restart gets a new boot id (logged with
// "running", and with every event's member), so the others report the
// old life failed and the new one joined even when it comes back at once
// on the same address.
//
// Exit codes: 0 after a leave, 1 on a runtime error, 2 for a bad flag or
// variable, 3 when a live member of the cluster already has this node's
// name (gencluster.ErrNameConflict: give it another GENCLUSTER_NAME).
//
// Build it as a static binary:
//
//	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/gencluster-node ./examples/node
//
// (bin/ is in .gitignore).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
	"github.com/gencluster/gencluster/seeds/mdns"
	"github.com/gencluster/gencluster/seeds/multicast"
)

// seedRegistry is the registry GENCLUSTER_SEEDS is parsed with: the
// built-in schemes and the two whose backends live in packages of their
// own, mdns+ and mcast+, so that the containers and the system tests can
// name every backend.
func seedRegistry() (*seeds.Registry, error) {
	r := seeds.Default()
	if err := mdns.Register(r); err != nil {
		return nil, err
	}
	if err := multicast.Register(r); err != nil {
		return nil, err
	}
	return r, nil
}

// maxEvents is how many events /events keeps.
const maxEvents = 512

// exitNameConflict is the exit code when Start finds this node's name held
// by a live member (gencluster.ErrNameConflict): restarting will not help.
const exitNameConflict = 3

func main() {
	os.Exit(run(os.Args[1:]))
}

// config holds the program's flags.
type config struct {
	httpAddr     string
	drainTimeout time.Duration
	leaveTimeout time.Duration
	startTimeout time.Duration
	logLevel     slog.Level
	minMembers   int
	snapshot     string
	fast         bool
	suspicion    int
	keysAPI      string
}

// envHelp is the usage text's list of the variables gencluster.FromEnv
// reads, each with what it sets (a test checks that none is missing).
var envHelp = []struct{ name, help string }{
	{gencluster.EnvName, "node name, unique in the cluster (default: host name + random suffix)"},
	{gencluster.EnvBindAddr, "gossip IP:port, UDP and TCP; a go-sockaddr template is allowed (default 0.0.0.0:7946)"},
	{gencluster.EnvAdvertiseAddr, "IP:port the others reach this node at, when it differs from the bind address"},
	{gencluster.EnvSeeds, "discovery backends in seeds.Parse syntax, e.g. dns+gossip:7946 (mdns+ and mcast+ too)"},
	{gencluster.EnvRefreshInterval, "how often discovery re-runs (default 5s; 0 or infinity: join once, at start)"},
	{gencluster.EnvMeta, "metadata gossiped with the node, k=v,k=v"},
	{gencluster.EnvSecretKey, "gossip encryption key: hex:<hex>, base64:<base64>, or the base64 of 16 or 32 bytes (never logged)"},
	{gencluster.EnvSecretKeyFile, "file holding the key as " + gencluster.EnvSecretKey + " does (a mounted Kubernetes Secret); not with it"},
	{gencluster.EnvKeyMigration, "true: hold the key but gossip plaintext until KeyManager().Encrypt (docs/keys.md)"},
	{gencluster.EnvLabel, "cluster label: nodes with another label never merge with this one"},
	{gencluster.EnvSnapshot, "member snapshot file, to rejoin the known members after a full outage (the -snapshot flag overrides it)"},
}

// usage prints the program's help: the environment first (it configures
// the cluster), then the flags.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, "usage: node [flags]\n\nCluster settings come from the environment (gencluster.FromEnv):\n")
	width := 0
	for _, e := range envHelp {
		width = max(width, len(e.name))
	}
	for _, e := range envHelp {
		fmt.Fprintf(w, "  %-*s  %s\n", width, e.name, e.help)
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.PrintDefaults()
}

// parseFlags reads the flags; -h prints the usage to out.
func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.httpAddr, "http", ":8080", "`addr`ess of the status endpoint (/members, /healthz, /readyz, /events, /metrics); empty disables it")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Second, "bound on the drain after SIGTERM, before the leave (0: leave without draining)")
	fs.DurationVar(&c.leaveTimeout, "leave-timeout", 10*time.Second, "bound on the graceful leave after SIGTERM")
	fs.DurationVar(&c.startTimeout, "start-timeout", 30*time.Second, "bound on the initial join")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.IntVar(&c.minMembers, "min-members", 1, "cluster size, this node included, at which the cluster has formed: /readyz answers 200 from then on, also when members fail later (only isolation or a leave turns it 503)")
	fs.StringVar(&c.snapshot, "snapshot", "", "`path` of the member snapshot (gencluster.WithSnapshot), to rejoin after a full outage; overrides "+gencluster.EnvSnapshot)
	fs.BoolVar(&c.fast, "fast", false, "short memberlist timers (failure detection in about a second); for tests, not for production")
	fs.IntVar(&c.suspicion, "suspicion-mult", 0, "memberlist's SuspicionMult: a suspect is declared failed after about n x probe interval when others confirm it, 6 times that when none does (0: the timers' own, 4 for LAN, 2 with -fast; "+
		"at 2 no confirmation is awaited and one missed probe round decides)")
	fs.StringVar(&c.keysAPI, "keys-api", "", "`addr`ess of the cluster key API (/keys: list, install, use, remove, encrypt); off when empty. "+
		"It changes the cluster's gossip keys: bind it to loopback or a management network, never expose it")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.leaveTimeout <= 0 || c.startTimeout <= 0 || c.drainTimeout < 0 {
		return c, errors.New("-leave-timeout and -start-timeout must be positive, -drain-timeout not negative")
	}
	if c.minMembers < 1 {
		return c, errors.New("-min-members must be at least 1")
	}
	if c.suspicion < 0 || c.suspicion == 1 {
		return c, fmt.Errorf("-suspicion-mult %d: want 0 (the timers' own) or at least 2", c.suspicion)
	}
	return c, nil
}

func run(args []string) int {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "node:", err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	seedReg, err := seedRegistry()
	if err != nil {
		logger.Error("seed schemes", "err", err)
		return 1
	}
	opts, err := gencluster.FromEnv(gencluster.SeedRegistry(seedReg))
	if err != nil {
		logger.Error("bad configuration", "err", err)
		return 2
	}
	// A registry of the program's own: nothing registers on the global one.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts = append(opts, gencluster.WithLogger(logger), gencluster.WithMetrics(reg), gencluster.WithMinMembers(cfg.minMembers))
	if cfg.snapshot != "" {
		opts = append(opts, gencluster.WithSnapshot(cfg.snapshot))
	}
	if cfg.fast {
		opts = append(opts, gencluster.WithMemberlistConfig(fastTimers))
	}
	if cfg.suspicion > 0 {
		opts = append(opts, gencluster.WithMemberlistConfig(func(c *memberlist.Config) { c.SuspicionMult = cfg.suspicion }))
	}

	// SIGTERM (docker stop, Kubernetes) and SIGINT (Ctrl-C) mean leave.
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopSignals()

	// Take the status port and serve it first: a busy port fails the
	// program before it joins anything, and /metrics and the probes answer
	// while the initial join runs (/healthz and /readyz with 503).
	st := &status{}
	var srv *http.Server
	httpErr := make(chan error, 1)
	if cfg.httpAddr != "" {
		ln, err := net.Listen("tcp", cfg.httpAddr)
		if err != nil {
			logger.Error("status endpoint", "addr", cfg.httpAddr, "err", err)
			return 1
		}
		srv = &http.Server{Handler: st.handler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})), ReadHeaderTimeout: 5 * time.Second}
		go func() { httpErr <- srv.Serve(ln) }()
		logger.Info("status endpoint", "addr", ln.Addr().String())
		defer func() {
			shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutCtx)
		}()
	}

	startCtx, cancelStart := context.WithTimeout(sigCtx, cfg.startTimeout)
	node, err := gencluster.Start(startCtx, opts...)
	cancelStart()
	if errors.Is(err, gencluster.ErrNameConflict) {
		logger.Error("name conflict: a live member of the cluster has this node's name; not starting (set another "+gencluster.EnvName+")", "err", err)
		return exitNameConflict
	}
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	st.setNode(node)
	if cfg.keysAPI != "" {
		stop, err := serveKeys(cfg.keysAPI, node, httpErr)
		if err != nil {
			logger.Error("key API", "addr", cfg.keysAPI, "err", err)
			_ = node.Close()
			return 1
		}
		defer stop()
		logger.Warn("cluster key API enabled: it changes the gossip keys, do not expose it", "addr", cfg.keysAPI)
	}
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		for ev := range node.Events() {
			logger.Info("event", "type", ev.Type.String(), "peer", ev.Member.Name, "addr", ev.Member.Addr, "state", ev.Member.State.String(), "boot", ev.Member.Boot.String())
			st.record(ev)
		}
	}()
	logger.Info("running", "name", node.Name(), "addr", node.Addr(), "boot", node.LocalMember().Boot.String())

	code := 0
	select {
	case <-sigCtx.Done():
		logger.Info("signal received: draining, then leaving", "drain_timeout", cfg.drainTimeout, "leave_timeout", cfg.leaveTimeout)
		drain(node, logger, cfg.drainTimeout)
	case err := <-httpErr:
		logger.Error("status endpoint stopped", "err", err)
		code = 1
	}

	leaveCtx, cancelLeave := context.WithTimeout(context.Background(), cfg.leaveTimeout)
	defer cancelLeave()
	if err := node.Leave(leaveCtx); err != nil {
		logger.Error("leave", "err", err)
		code = 1
	} else {
		logger.Info("left the cluster")
	}
	<-eventsDone
	return code
}

// fastTimers shortens memberlist's LAN timers so that a failure is detected
// in about a second and dead members are forgotten after a few seconds. On
// a loaded network it will declare healthy nodes dead: tests only.
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

// status serves the node's view over HTTP: Node.Handler's /members,
// /healthz and /readyz, plus /events and /metrics.
type status struct {
	node atomic.Pointer[joined] // nil until the node has joined

	mu     sync.Mutex
	events []eventJSON // ring of the last maxEvents, oldest first
}

// joined is the running node and its Handler.
type joined struct {
	node    *gencluster.Node
	handler http.Handler
}

func (s *status) setNode(n *gencluster.Node) {
	s.node.Store(&joined{node: n, handler: n.Handler()})
}

// memberJSON is one member in /events, shaped like Node.Handler's
// /members entries.
type memberJSON struct {
	Name  string            `json:"name"`
	Addr  string            `json:"addr"`
	State string            `json:"state"`
	Meta  map[string]string `json:"meta"`
	Boot  string            `json:"boot,omitempty"` // the member's life (gencluster.BootID)
}

// eventJSON is one event in /events.
type eventJSON struct {
	Time   time.Time  `json:"time"`
	Type   string     `json:"type"`
	Member memberJSON `json:"member"`
}

func toJSON(m gencluster.Member) memberJSON {
	meta := m.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	boot := ""
	if m.Boot != 0 {
		boot = m.Boot.String()
	}
	return memberJSON{Name: m.Name, Addr: m.Addr, State: m.State.String(), Meta: meta, Boot: boot}
}

func (s *status) record(ev gencluster.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == maxEvents {
		s.events = append(s.events[:0], s.events[1:]...)
	}
	s.events = append(s.events, eventJSON{Time: time.Now().UTC(), Type: ev.Type.String(), Member: toJSON(ev.Member)})
}

// handler routes /events and /metrics here and everything else to the
// node's Handler, once the node has joined; before that, 503 "starting".
func (s *status) handler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		out := append([]eventJSON{}, s.events...)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		j := s.node.Load()
		if j == nil {
			http.Error(w, "starting: not joined yet", http.StatusServiceUnavailable)
			return
		}
		j.handler.ServeHTTP(w, r)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
