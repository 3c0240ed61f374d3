package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Defaults of Config.
const (
	// DefaultInterval is the least time between two writes.
	DefaultInterval = time.Second
	// DefaultFailedTTL is how long a member declared failed stays in the
	// snapshot: long enough to outlast a long outage, short enough that a
	// member that is gone for good stops being tried after a restart.
	DefaultFailedTTL = 72 * time.Hour
)

// Config configures a Recorder.
type Config struct {
	Path      string        // the snapshot file
	Cluster   string        // the cluster label; a snapshot of another is refused
	Self      string        // this node's name: never recorded, never a candidate
	Interval  time.Duration // at most one write per Interval; 0 means DefaultInterval
	FailedTTL time.Duration // 0 means DefaultFailedTTL
	Logger    *slog.Logger  // nil discards
	Now       func() time.Time
}

// Recorder keeps the members a node sees and writes them to the snapshot
// file, at most once per interval, from Run. It also holds the join
// candidates read at Open: the members of the last run that this run has
// not yet seen alive or leaving. It is safe for concurrent use.
type Recorder struct {
	cfg  Config
	wake chan struct{}

	mu      sync.Mutex
	members map[string]Member
	cands   map[string]string // name -> address
	dirty   bool
	writes  int
	failed  int
	lastErr error
}

// Open checks that cfg.Path can be written and reads the snapshot there.
// What it finds decides:
//
//   - no file: an empty Recorder (the first start);
//   - a snapshot of this cluster: its members become the join candidates;
//   - a damaged or truncated snapshot, or one of another format version:
//     a warning is logged and the file is ignored (it is overwritten at the
//     first change), because discovery may still work and refusing to
//     start would turn a bad disk block into an outage;
//   - a file that is not a snapshot, a snapshot of another cluster label,
//     or a file that cannot be read: an error, because the path is wrong
//     (it names another file, or another cluster's volume) and writing
//     there would destroy what it holds.
func Open(cfg Config) (*Recorder, error) {
	if cfg.Path == "" {
		return nil, errors.New("snapshot: empty path")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.FailedTTL <= 0 {
		cfg.FailedTTL = DefaultFailedTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Recorder{cfg: cfg, wake: make(chan struct{}, 1), members: map[string]Member{}, cands: map[string]string{}}
	if err := CheckWritable(cfg.Path); err != nil {
		return nil, err
	}
	f, err := Read(cfg.Path)
	var verr *VersionError
	var cerr *CorruptError
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		cfg.Logger.Info("no snapshot yet; it is written at the first membership change", "path", cfg.Path)
		return r, nil
	case errors.As(err, &verr), errors.As(err, &cerr):
		cfg.Logger.Warn("ignoring the snapshot (it is overwritten at the first membership change)", "path", cfg.Path, "err", err)
		return r, nil
	case errors.Is(err, ErrNotSnapshot):
		return nil, fmt.Errorf("snapshot %s: %w; refusing to overwrite it: remove it or choose another path", cfg.Path, err)
	default:
		return nil, fmt.Errorf("snapshot %s: %w", cfg.Path, err)
	}
	if f.Cluster != cfg.Cluster {
		return nil, fmt.Errorf("snapshot %s belongs to cluster label %q, this node's label is %q: remove it or choose another path", cfg.Path, f.Cluster, cfg.Cluster)
	}
	now := cfg.Now()
	for _, m := range f.Members {
		if m.Name == cfg.Self || m.State == Failed && now.Sub(m.Since) > cfg.FailedTTL {
			continue
		}
		r.members[m.Name] = m
		r.cands[m.Name] = m.Addr
	}
	cfg.Logger.Info("read the snapshot", "path", cfg.Path, "candidates", len(r.cands))
	return r, nil
}

// Candidates returns the addresses of the snapshot's members that this
// run has not seen alive or leaving yet, sorted: the addresses to join.
func (r *Recorder) Candidates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.cands))
	for _, a := range r.cands {
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Alive records that name is alive at addr (a join or an update).
func (r *Recorder) Alive(name, addr string) {
	if name == r.cfg.Self || checkName(name) != nil || checkAddr(addr) != nil {
		return
	}
	r.mu.Lock()
	delete(r.cands, name)
	old, ok := r.members[name]
	if !ok || old.Addr != addr || old.State != Alive {
		r.members[name] = Member{Name: name, Addr: addr, State: Alive, Since: r.cfg.Now()}
		r.touchLocked()
	}
	r.mu.Unlock()
}

// Failed records that name was declared failed. It stays in the snapshot
// (it may come back after the outage) until FailedTTL has passed.
func (r *Recorder) Failed(name string) {
	r.mu.Lock()
	if m, ok := r.members[name]; ok && m.State != Failed {
		m.State, m.Since = Failed, r.cfg.Now()
		r.members[name] = m
		r.touchLocked()
	}
	r.mu.Unlock()
}

// Left records that name left gracefully: it is removed from the snapshot
// and from the candidates, so this node never rejoins it.
func (r *Recorder) Left(name string) {
	r.mu.Lock()
	delete(r.cands, name)
	if _, ok := r.members[name]; ok {
		delete(r.members, name)
		r.touchLocked()
	}
	r.mu.Unlock()
}

func (r *Recorder) touchLocked() {
	r.dirty = true
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run writes the snapshot after every change, at most once per interval,
// until ctx ends; then it writes the last changes and returns. A failed
// write is logged and retried an interval later.
func (r *Recorder) Run(ctx context.Context) {
	var last time.Time
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Flush()
			return
		case <-r.wake:
		}
		// Rate limit: wait out the rest of the interval, then write
		// everything that changed meanwhile at once.
		if wait := r.cfg.Interval - time.Since(last); !last.IsZero() && wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				r.Flush()
				return
			case <-timer.C:
			}
		}
		last = time.Now()
		if err := r.Flush(); err != nil {
			r.touch() // retry after the interval
		}
	}
}

func (r *Recorder) touch() {
	r.mu.Lock()
	r.touchLocked()
	r.mu.Unlock()
}

// Flush writes the snapshot now if it changed since the last write.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dirty {
		return nil
	}
	now := r.cfg.Now()
	f := File{Cluster: r.cfg.Cluster}
	for name, m := range r.members {
		if m.State == Failed && now.Sub(m.Since) > r.cfg.FailedTTL {
			delete(r.members, name)
			continue
		}
		f.Members = append(f.Members, m)
	}
	// Writing under the lock keeps the file in the order of the changes;
	// the events that wait meanwhile come from a queue, not from gossip.
	if err := Write(r.cfg.Path, f); err != nil {
		// Logged when writes start failing, not at every retry (the
		// messages differ anyway: they name the temporary file).
		if r.lastErr == nil {
			r.cfg.Logger.Warn("writing the snapshot failed; retrying", "path", r.cfg.Path, "err", err)
		}
		r.lastErr = err
		r.failed++
		return err
	}
	if r.lastErr != nil {
		r.cfg.Logger.Info("writing the snapshot works again", "path", r.cfg.Path)
	}
	r.dirty, r.lastErr = false, nil
	r.writes++
	return nil
}

// Failures returns how many writes failed.
func (r *Recorder) Failures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Writes returns how many times the snapshot was written.
func (r *Recorder) Writes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes
}
