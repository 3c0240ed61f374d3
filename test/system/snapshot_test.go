//go:build system

package system

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gencluster/gencluster/internal/snapshot"
)

// snapshotInContainer is where each node keeps its snapshot: a directory
// of the host, one per node, mounted into the container.
const snapshotInContainer = "/data/members.snap"

// startSnap runs node name at ip (its old address on a restart) with the
// host directory dir mounted at /data and GENCLUSTER_SNAPSHOT pointing
// there. With alias the node joins the network alias that is the seed
// list; without, it has no alias and its seeds are /data/seeds, a file
// that lists nobody: discovery finds nothing.
func (c *cluster) startSnap(name, ip, dir string, alias bool) {
	c.t.Helper()
	args := []string{"-v", dir + ":/data",
		"-e", "GENCLUSTER_NAME=" + name,
		"-e", fmt.Sprintf(`GENCLUSTER_BIND={{ GetInterfaceIP "eth0" }}:%d`, gossipPort),
		"-e", "GENCLUSTER_REFRESH_INTERVAL=" + refresh.String(),
		"-e", "GENCLUSTER_META=test=" + c.t.Name(),
		"-e", "GENCLUSTER_SNAPSHOT=" + snapshotInContainer,
	}
	if alias {
		args = append(args, "--network-alias", "gossip", "-e", "GENCLUSTER_SEEDS="+c.seedSpec)
	} else {
		args = append(args, "-e", "GENCLUSTER_SEEDS=file+/data/seeds")
	}
	args = append(args, image, "-fast", "-http", fmt.Sprintf(":%d", httpPort), "-leave-timeout", "5s", "-log-level", "debug")
	c.Run(name, ip, args...)
	if !slices.Contains(c.names, name) {
		c.names = append(c.names, name)
	}
}

// TestSnapshotReform (issue 14, part 2): eight nodes, each with a
// snapshot on a volume of its own, form a cluster from DNS; all eight are
// stopped at once (docker stop: every node leaves, so each snapshot keeps
// only the members that left after it) and removed; new containers with
// the same names, addresses and volumes come back with discovery that
// finds nothing (no DNS alias, an empty seed file). The snapshots alone
// re-form the whole cluster. The re-form time is printed next to the
// first, DNS-seeded formation of the same run.
func TestSnapshotReform(t *testing.T) {
	c := newNetwork(t)
	root, err := os.MkdirTemp("", "gencluster-snapshot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	// The node runs as nobody (65534): its directory must be writable.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	var names, ips []string
	for i := 1; i <= nodes; i++ {
		name := fmt.Sprintf("%s-n%d", c.Name, i)
		dir := filepath.Join(root, fmt.Sprintf("n%d", i))
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil { // past the umask
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "seeds"), []byte("# discovery finds nobody\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs[name] = dir
		names = append(names, name)
		ips = append(ips, fmt.Sprintf("%s%d", c.Prefix, c.nextIP))
		c.nextIP++
	}

	start := time.Now()
	for i, n := range names {
		c.startSnap(n, ips[i], dirs[n], true)
	}
	c.waitWhole("first formation, seeded by DNS", convergeTimeout)
	first := time.Since(start)
	c.waitFor("every snapshot lists the 7 others", 20*time.Second, func() error {
		for _, n := range names {
			f, err := snapshot.Read(filepath.Join(dirs[n], "members.snap"))
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			if len(f.Members) != nodes-1 {
				return fmt.Errorf("%s: %d members in the snapshot", n, len(f.Members))
			}
		}
		return nil
	})

	// The outage: every node stopped at once, containers removed.
	mustDocker(t, append([]string{"stop", "-t", "20"}, names...)...)
	mustDocker(t, append([]string{"rm", "-v"}, names...)...)
	var kept []string
	for _, n := range names {
		f, err := snapshot.Read(filepath.Join(dirs[n], "members.snap"))
		if err != nil {
			t.Fatalf("%s's snapshot after the stop: %v", n, err)
		}
		kept = append(kept, fmt.Sprintf("n%s=%d", strings.TrimPrefix(n, c.Name+"-n"), len(f.Members)))
	}
	t.Logf("members left in each snapshot after the simultaneous stop: %s", strings.Join(kept, " "))

	// Back, with nothing to discover.
	start = time.Now()
	for i, n := range names {
		c.startSnap(n, ips[i], dirs[n], false)
	}
	reform := c.waitWhole("re-formed from the snapshots alone", convergeTimeout)
	total := time.Since(start)
	for _, n := range names {
		v, err := c.Metric(n, "gencluster_discovery_peers", `backend="file+`)
		if err != nil || v != 0 {
			t.Errorf("%s: the file backend found %v peers (err %v), want 0", n, v, err)
		}
	}
	t.Logf("measured: %d nodes; first formation (DNS) %s from the first docker run; re-form from snapshots %s from the first docker run (%s after the last), ratio %.2f",
		nodes, secs(first), secs(total), secs(reform), total.Seconds()/first.Seconds())
	fmt.Printf("FIGURE snapshot_reform_%d=%s\n", nodes, secs(total))
	fmt.Printf("FIGURE snapshot_first_form_%d=%s\n", nodes, secs(first))
}
