package gencluster_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gencluster/gencluster"
	"github.com/gencluster/gencluster/seeds"
)

// Two nodes on the loopback interface: the second is seeded with the
// first's address and the cluster forms.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	a, err := gencluster.Start(ctx,
		gencluster.WithName("api-1"),
		gencluster.WithBindAddr("127.0.0.1:0"), // port 0: a free port, see Addr
	)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Leave(ctx)

	b, err := gencluster.Start(ctx,
		gencluster.WithName("api-2"),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithSeeds(seeds.Static(a.Addr())),
		gencluster.WithMeta(map[string]string{"zone": "eu-1"}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Leave(ctx)

	for _, m := range b.Members() {
		fmt.Printf("%s %s zone=%q\n", m.Name, m.State, m.Meta["zone"])
	}
	// Output:
	// api-1 alive zone=""
	// api-2 alive zone="eu-1"
}

// Events starts with the node's own join; every change follows.
func ExampleNode_Events() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := gencluster.Start(ctx, gencluster.WithName("a"), gencluster.WithBindAddr("127.0.0.1:0"))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := gencluster.Start(ctx, gencluster.WithName("b"), gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithSeeds(seeds.Static(a.Addr())))
	if err != nil {
		log.Fatal(err)
	}
	go b.Leave(ctx)

	for ev := range a.Events() {
		fmt.Println(ev.Type, ev.Member.Name)
		if ev.Type == gencluster.EventLeave {
			break
		}
	}
	// Output:
	// join a
	// join b
	// leave b
}

// FromEnv configures a node from GENCLUSTER_* variables, as a container
// would be; options after it override it.
func ExampleFromEnv() {
	os.Setenv("GENCLUSTER_NAME", "worker-7")
	os.Setenv("GENCLUSTER_BIND", "127.0.0.1:0")
	os.Setenv("GENCLUSTER_REFRESH_INTERVAL", "infinity")
	os.Setenv("GENCLUSTER_META", "zone=eu-1,tier=batch")
	defer func() {
		for _, k := range []string{"GENCLUSTER_NAME", "GENCLUSTER_BIND", "GENCLUSTER_REFRESH_INTERVAL", "GENCLUSTER_META"} {
			os.Unsetenv(k)
		}
	}()

	opts, err := gencluster.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	node, err := gencluster.Start(context.Background(), opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	me := node.LocalMember()
	fmt.Println(me.Name, me.Meta["zone"], me.Meta["tier"])
	// Output: worker-7 eu-1 batch
}

// Bad options are reported together, each naming its value.
func ExampleStart_badOptions() {
	_, err := gencluster.Start(context.Background(),
		gencluster.WithBindAddr("localhost:7946"),
		gencluster.WithRefreshInterval(-time.Second),
	)
	fmt.Println(err)
	// Output:
	// gencluster: WithBindAddr "localhost:7946": host "localhost" is not an IP address (use a template such as {{ GetPrivateIP }})
	// gencluster: WithRefreshInterval -1s: negative
}

func ExampleWithSnapshot() {
	dir, err := os.MkdirTemp("", "gencluster-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// After a full outage, the members in the snapshot are joined even
	// when discovery finds nobody; a damaged snapshot is ignored with a
	// warning, a file that is not a snapshot stops Start.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a snapshot\n"), 0o600)
	_, err = gencluster.Start(context.Background(),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithSnapshot(filepath.Join(dir, "notes.txt")),
	)
	fmt.Println(err != nil && strings.Contains(err.Error(), "refusing to overwrite it"))

	node, err := gencluster.Start(context.Background(),
		gencluster.WithBindAddr("127.0.0.1:0"),
		gencluster.WithSnapshot(filepath.Join(dir, "members.snap")),
	)
	if err != nil {
		panic(err)
	}
	defer node.Close()
	fmt.Println(len(node.Members()))
	// Output:
	// true
	// 1
}

// A key in a variable or a file states its encoding, or is the base64 of
// a 16- or 32-byte key; 32 characters without a prefix are ambiguous.
func ExampleParseKey() {
	for _, text := range []string{
		"hex:000102030405060708090a0b0c0d0e0f",
		"base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"0123456789abcdef0123456789abcdef",
	} {
		key, err := gencluster.ParseKey(text)
		fmt.Println(len(key), err != nil)
	}
	// Output:
	// 16 false
	// 24 false
	// 32 false
	// 0 true
}
