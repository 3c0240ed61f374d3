package mdns

import (
	"errors"

	"github.com/gencluster/gencluster/seeds"
)

// Scheme is the spec scheme Register adds:
//
//	mdns+_service._udp
//	mdns+_service._udp?domain=&iface=&instance=&interval=&timeout=&peer-ttl=
const Scheme = "mdns"

// Register adds the mdns scheme to r, a Registry the program built
// (seeds.Default() or seeds.NewRegistry()); nothing is registered
// globally. The scheme is not in seeds.Default, so that a program that
// never names mDNS does not link its code:
//
//	r := seeds.Default()
//	if err := mdns.Register(r); err != nil { ... }
//	d, err := r.Parse("mdns+_chat._udp?iface=eth0")
func Register(r *seeds.Registry) error {
	if r == nil {
		return errors.New("mdns: Register: nil Registry")
	}
	return r.Register(Scheme, parseMDNS)
}
