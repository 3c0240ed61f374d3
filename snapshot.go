package gencluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gencluster/gencluster/internal/snapshot"
)

// WithSnapshot keeps a snapshot of the cluster's members in the file at
// path, so that after a full outage (every node down, and discovery empty
// or unreachable when they come back) the node rejoins the members it
// knew, as serf's snapshot does.
//
// The snapshot holds the name and address of every member this node saw
// alive, and of those declared failed in the last 72 hours; a member seen
// leaving gracefully is removed, so the node never rejoins it. It is
// written at most once a second after a change (atomically: a temporary
// file, fsync, rename, directory fsync) and when the node stops. At Start
// its members are extra join candidates of the refresh loop, tried with
// the normal backoff until they are seen alive or leaving.
//
// What Start finds at path decides: no file is the first start; a
// truncated or damaged snapshot, or one of another format version, is
// ignored with a warning (discovery may still work, and it is rewritten
// at the first change); a file that is not a snapshot, a snapshot of
// another cluster label (WithLabel), or a path whose directory is missing
// or read-only makes Start fail with an error naming the path. Each node
// needs a path of its own. See docs/snapshot.md.
func WithSnapshot(path string) Option {
	return func(c *config) error {
		if strings.TrimSpace(path) == "" {
			return errors.New("WithSnapshot: empty path")
		}
		if strings.ContainsRune(path, 0) {
			return fmt.Errorf("WithSnapshot %q: the path contains a NUL byte", path)
		}
		c.snapshotPath = path
		return nil
	}
}

// openSnapshot reads the snapshot of WithSnapshot, or returns nil without
// one.
func (n *Node) openSnapshot() (*snapshot.Recorder, error) {
	if n.cfg.snapshotPath == "" {
		return nil, nil
	}
	rec, err := snapshot.Open(snapshot.Config{
		Path:    n.cfg.snapshotPath,
		Cluster: n.cfg.label,
		Self:    n.cfg.name,
		Logger:  n.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("gencluster: WithSnapshot: %w", err)
	}
	return rec, nil
}

// recordSnapshot feeds the node's events to rec and runs its writer, in
// goroutines the node owns. It subscribes before gossip starts, so that
// no change is missed.
func (n *Node) recordSnapshot(rec *snapshot.Recorder) {
	_, events, _ := n.Subscribe()
	n.goRun(func(ctx context.Context) { rec.Run(ctx) })
	n.goRun(func(context.Context) {
		for ev := range events {
			switch ev.Type {
			case EventJoin, EventUpdate:
				rec.Alive(ev.Member.Name, ev.Member.Addr)
			case EventFail:
				rec.Failed(ev.Member.Name)
			case EventLeave:
				rec.Left(ev.Member.Name)
			}
		}
	})
}

// snapshotSeeds offers the snapshot's candidates to the refresh loop as
// one more discovery backend.
type snapshotSeeds struct {
	rec  *snapshot.Recorder
	path string
}

// Discover returns the snapshot's members not yet seen alive or leaving.
func (s snapshotSeeds) Discover(context.Context) ([]string, error) {
	return s.rec.Candidates(), nil
}

// String names the backend in logs and metrics.
func (s snapshotSeeds) String() string { return "snapshot+" + s.path }
