// Command meshnode runs a gencluster Node over meshdist, the full-mesh TCP
// Dist: no memberlist, no UDP. Start a few on one machine:
//
//	go run ./examples/meshdist/cmd/meshnode -name a -addr 127.0.0.1:7001 -http 127.0.0.1:8001
//	go run ./examples/meshdist/cmd/meshnode -name b -addr 127.0.0.1:7002 -http 127.0.0.1:8002 -seeds 127.0.0.1:7001
//	curl 127.0.0.1:8001/members
//
// Flags:
//
//	-name name          this node's name (default: the host name)
//	-addr host:port     where to listen for peers (default 127.0.0.1:7946)
//	-advertise h:p      where peers dial this node (default: -addr)
//	-seeds h:p,...      peers to join (gencluster.WithSeeds(seeds.Static(...)))
//	-meta k=v,...       this node's metadata
//	-http addr          gencluster's handler (/members, /healthz, /readyz); off when empty
//	-interval d         heartbeat interval (meshdist.Config.Interval, default 1s)
//	-missed n           heartbeats missed before a connection is dropped (default 5)
//	-dial-timeout d     bound on a dial and its handshake (default 2s)
//	-refresh d          how often the seeds are joined again (default 5s)
//	-leave-timeout d    bound on the graceful leave after SIGTERM (default 10s)
//	-log-level level    debug, info, warn or error (default info)
//
// It prints every membership event on stdout as a JSON line
// ({"type":"join","member":{"name","addr","state","meta","boot"}}) and
// logs JSON to stderr. SIGTERM or SIGINT leaves gracefully (the others
// report a leave) and exits 0; SIGKILL is a crash (the others report a
// failure within -missed×-interval + -dial-timeout, and usually at once,
// since the kernel resets the dead process's connections).
//
// Exit codes: 0 after a leave, 1 on a runtime error, 2 for a bad flag, 3
// when a live member holds this node's name (the error names it).
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
	"strings"
	"syscall"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/examples/meshdist"
	"github.com/gencluster/gencluster/seeds"
)

const exitNameConflict = 3

type config struct {
	dist         meshdist.Config
	seeds        []string
	httpAddr     string
	refresh      time.Duration
	leaveTimeout time.Duration
	logLevel     slog.Level
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	host, _ := os.Hostname()
	var seedList, meta string
	fs := flag.NewFlagSet("meshnode", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.dist.Name, "name", host, "this node's `name`, unique in the cluster")
	fs.StringVar(&c.dist.Addr, "addr", "127.0.0.1:7946", "`host:port` to listen on for peers")
	fs.StringVar(&c.dist.AdvertiseAddr, "advertise", "", "`host:port` peers dial to reach this node (default: -addr)")
	fs.StringVar(&seedList, "seeds", "", "comma-separated `host:port` list of peers to join")
	fs.StringVar(&meta, "meta", "", "this node's metadata, as comma-separated `k=v` pairs")
	fs.StringVar(&c.httpAddr, "http", "", "`addr`ess of gencluster's handler (/members, /healthz, /readyz); off when empty")
	fs.DurationVar(&c.dist.Interval, "interval", meshdist.DefaultInterval, "heartbeat interval")
	fs.IntVar(&c.dist.MissedHeartbeats, "missed", meshdist.DefaultMissedHeartbeats, "heartbeats missed before a connection is dropped")
	fs.DurationVar(&c.dist.DialTimeout, "dial-timeout", meshdist.DefaultDialTimeout, "bound on a dial and its handshake")
	fs.DurationVar(&c.refresh, "refresh", 5*time.Second, "how often the seeds are joined again (gencluster.WithRefreshInterval)")
	fs.DurationVar(&c.leaveTimeout, "leave-timeout", 10*time.Second, "bound on the graceful leave after SIGTERM")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.leaveTimeout <= 0 {
		return c, fmt.Errorf("-leave-timeout %v: must be positive", c.leaveTimeout)
	}
	if seedList != "" {
		c.seeds = strings.Split(seedList, ",")
	}
	if meta != "" {
		c.dist.Meta = map[string]string{}
		for _, kv := range strings.Split(meta, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return c, fmt.Errorf("-meta: %q is not k=v", kv)
			}
			c.dist.Meta[k] = v
		}
	}
	return c, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "meshnode:", err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	cfg.dist.Logger = logger
	d, err := meshdist.New(cfg.dist)
	if err != nil {
		fmt.Fprintln(stderr, "meshnode:", err)
		return 2
	}
	defer d.Close()

	sigCtx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopSignals()

	// Claim the name before anything else: a live member holding it
	// refuses the handshake, and retrying will not help.
	if err := claimName(sigCtx, d, cfg.seeds); err != nil {
		logger.Error("a live member holds this node's name; not starting", "err", err)
		return exitNameConflict
	}
	opts := append(d.NodeOptions(), gencluster.WithLogger(logger), gencluster.WithRefreshInterval(cfg.refresh))
	if len(cfg.seeds) > 0 {
		opts = append(opts, gencluster.WithSeeds(seeds.Static(cfg.seeds...)))
	}
	node, err := gencluster.Start(sigCtx, opts...)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 2
	}
	defer node.Close()
	logger.Info("running", "name", node.Name(), "addr", node.Addr(), "boot", d.LocalMember().Boot.String())

	stopHTTP, err := serve(cfg.httpAddr, node.Handler(), logger)
	if err != nil {
		logger.Error("status endpoint", "err", err)
		return 1
	}
	defer stopHTTP()

	enc := json.NewEncoder(stdout)
	for {
		select {
		case ev, ok := <-node.Events():
			if !ok {
				return 1 // stopped by something other than a signal
			}
			if err := enc.Encode(ev); err != nil {
				logger.Error("writing an event", "err", err)
			}
		case <-sigCtx.Done():
			return leave(node, d, cfg.leaveTimeout, logger)
		}
	}
}

// claimName joins the first seed that answers, directly through the Dist,
// so that a name conflict stops the program with the holder's address
// (the Node would log it and keep retrying). Unreachable seeds are left to
// the Node's refresh loop.
func claimName(ctx context.Context, d *meshdist.Dist, seedAddrs []string) error {
	for _, a := range seedAddrs {
		if a == d.Addr() {
			continue
		}
		err := d.Connect(ctx, a)
		if err == nil || errors.Is(err, gencluster.ErrNameConflict) {
			return err
		}
	}
	return nil
}

// leave leaves the cluster: the Node stops its refresh loop, then calls the
// Dist's Leave, whose goodbyes make the peers report a leave.
func leave(node *gencluster.Node, d *meshdist.Dist, timeout time.Duration, logger *slog.Logger) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := node.Leave(ctx)
	if err != nil {
		logger.Error("leave", "err", err)
		return 1
	}
	logger.Info("left the cluster")
	return 0
}

// serve serves h on addr (nothing when addr is empty) until stop is
// called.
func serve(addr string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("status endpoint stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
