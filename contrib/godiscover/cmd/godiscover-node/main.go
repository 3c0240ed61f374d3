// Command godiscover-node is a gencluster node seeded through go-discover:
// the smallest program that registers the discover+ scheme in a Registry
// of its own and starts a Node with it. The realpeers Kubernetes suite
// runs it against a real kube-apiserver.
//
//	GENCLUSTER_NAME=chat-1 GENCLUSTER_BIND=10.0.1.10:7946 \
//	  godiscover-node -http :8080 \
//	  -seeds 'discover+provider=aws&region=eu-west-1&tag_key=cluster&tag_value=chat&port=7946'
//
// The cluster settings come from the GENCLUSTER_* environment
// (gencluster.FromEnv, given the program's Registry, so GENCLUSTER_SEEDS
// may name discover+ too); the seeds are -seeds or GENCLUSTER_SEEDS, not
// both. It serves the Node's status handler (/members,
// /healthz, /readyz) on -http and leaves the cluster on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/contrib/godiscover"
	"github.com/gencluster/gencluster/seeds"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "godiscover-node:", err)
		os.Exit(1)
	}
}

func run() error {
	spec := flag.String("seeds", "", "seed spec, built-in schemes and discover+ (or GENCLUSTER_SEEDS)")
	httpAddr := flag.String("http", ":8080", "`addr`ess of the status handler")
	flag.Parse()
	switch env := os.Getenv(gencluster.EnvSeeds); {
	case *spec == "" && env == "":
		return fmt.Errorf("no seeds: give -seeds or %s", gencluster.EnvSeeds)
	case *spec != "" && env != "":
		return fmt.Errorf("both -seeds and %s are set: give one", gencluster.EnvSeeds)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	// A Registry of the program's own: the built-in schemes plus discover+.
	reg := seeds.Default()
	if err := godiscover.Register(reg); err != nil {
		return err
	}
	opts, err := gencluster.FromEnv(gencluster.SeedRegistry(reg))
	if err != nil {
		return err
	}
	seedsName := os.Getenv(gencluster.EnvSeeds)
	if *spec != "" {
		d, err := reg.Parse(*spec)
		if err != nil {
			return err
		}
		opts, seedsName = append(opts, gencluster.WithSeeds(d)), fmt.Sprint(d)
	}
	opts = append(opts, gencluster.WithLogger(logger))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	node, err := gencluster.Start(startCtx, opts...)
	cancel()
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: node.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	logger.Info("running", "name", node.Name(), "addr", node.Addr(), "seeds", seedsName)

	<-ctx.Done()
	leaveCtx, cancelLeave := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelLeave()
	err = node.Leave(leaveCtx)
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShut()
	_ = srv.Shutdown(shutCtx)
	return err
}
