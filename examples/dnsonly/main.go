// Command dnsonly is the smallest production-shaped gencluster service: it
// takes the cluster settings from the GENCLUSTER_* variables (FromEnv),
// seeds by DNS only, serves Node.Handler and Prometheus metrics, and
// leaves on SIGTERM. It exists to show (and to check, in its test) what
// such a service links: the backends it never names, mDNS and multicast,
// are not in its binary. docs/discovery.md gives its size.
//
//	GOSSIP_DNS=api-gossip.prod.svc.cluster.local:7946 GENCLUSTER_NAME=api-1 dnsonly
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dnsonly:", err)
		os.Exit(1)
	}
}

func run() error {
	host, portText, err := net.SplitHostPort(os.Getenv("GOSSIP_DNS"))
	if err != nil {
		return fmt.Errorf("GOSSIP_DNS=%q: want name:port: %w", os.Getenv("GOSSIP_DNS"), err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("GOSSIP_DNS=%q: port %q: %w", os.Getenv("GOSSIP_DNS"), portText, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	opts, err := gencluster.FromEnv()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	node, err := gencluster.Start(ctx, append(opts, gencluster.WithSeeds(seeds.DNS(host, port)), gencluster.WithMetrics(reg))...)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", node.Handler())
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()

	<-ctx.Done()
	lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(lctx)
	return node.Leave(lctx)
}
