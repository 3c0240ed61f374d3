package seeds_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gencluster/gencluster/seeds"
)

func ExampleFile() {
	dir, err := os.MkdirTemp("", "seeds")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "peers")
	os.WriteFile(path, []byte("# peers\n10.0.0.1:7946\n10.0.0.2:7946 # rack 2\n"), 0o644)

	d := seeds.File(path) // or seeds.Parse("file+" + path)
	addrs, err := d.Discover(context.Background())
	fmt.Println(addrs, err)

	// A half-written file keeps the last good list and reports the line.
	os.WriteFile(path, []byte("10.0.0.1:7946\n10.0.0.3\n"), 0o644)
	addrs, err = d.Discover(context.Background())
	fmt.Println(addrs, err != nil)
	// Output:
	// [10.0.0.1:7946 10.0.0.2:7946] <nil>
	// [10.0.0.1:7946 10.0.0.2:7946] true
}

func ExamplePortRange() {
	d, err := seeds.Parse("ports+127.0.0.1:7946-7949") // or seeds.PortRange("127.0.0.1", 7946, 7949)
	if err != nil {
		panic(err)
	}
	addrs, _ := d.Discover(context.Background())
	fmt.Println(addrs)
	_, err = seeds.Parse("ports+127.0.0.1:7949-7946")
	fmt.Println(err)
	// Output:
	// [127.0.0.1:7946 127.0.0.1:7947 127.0.0.1:7948 127.0.0.1:7949]
	// seeds: spec "ports+127.0.0.1:7949-7946": port range 7949-7946: first port is above last
}

func ExampleExec() {
	// Every Discover runs the command (no shell) and reads one address per
	// line; lines without a port get ExecDefaultPort's.
	d := seeds.Exec("printf", []string{`%s\n`, "10.0.0.1", "[fd00::2]:7000", "# a comment"},
		seeds.ExecDefaultPort(7946), seeds.ExecTimeout(5*time.Second))
	addrs, err := d.Discover(context.Background())
	fmt.Println(addrs, err)

	// The same from a spec: one arg= per argument, percent-encoded.
	d, err = seeds.Parse(`exec+printf?arg=%25s\n&arg=10.0.0.1&arg=[fd00::2]:7000&port=7946&timeout=5s`)
	fmt.Println(d, err)

	// A failing command: its exit status and standard error's first line.
	_, err = seeds.Exec("sh", []string{"-c", "echo 'no credentials' >&2; exit 2"}).Discover(context.Background())
	fmt.Println(err)
	// Output:
	// [10.0.0.1:7946 [fd00::2]:7000] <nil>
	// exec+printf?arg=%25s\n&arg=10.0.0.1&arg=[fd00::2]:7000&port=7946&timeout=5s <nil>
	// exec sh -c "echo 'no credentials' >&2; exit 2": exit status 2 (stderr: "no credentials")
}
