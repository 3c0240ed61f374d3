package mdns_test

import (
	"fmt"

	"github.com/gencluster/gencluster/seeds"
	"github.com/gencluster/gencluster/seeds/mdns"
)

func ExampleNew() {
	// A node announcing and browsing _chat._udp.local; gencluster.Start
	// starts it (it is a seeds.Runner) before the first join.
	d := mdns.New("_chat._udp", mdns.Interface("eth0"))
	fmt.Println(d, d.(seeds.Validator).Validate())
	// Output:
	// mdns+_chat._udp <nil>
}

func ExampleRegister() {
	// The mdns+ scheme is not in seeds.Default: a program that parses
	// specs naming it registers it on its own Registry.
	_, err := seeds.Default().Parse("mdns+_chat._udp")
	fmt.Println(err != nil)

	r := seeds.Default()
	if err := mdns.Register(r); err != nil {
		panic(err)
	}
	d, err := r.Parse("mdns+_chat._udp?iface=eth0&interval=2s")
	fmt.Println(d, err)
	_, err = r.Parse("mdns+chat")
	fmt.Println(err)
	// Output:
	// true
	// mdns+_chat._udp <nil>
	// seeds: spec "mdns+chat": mdns: service "chat": the protocol label is not _udp or _tcp (want _name._udp or _name._tcp)
}
