package multicast

import (
	"errors"

	"github.com/gencluster/gencluster/seeds"
)

// Scheme is the spec scheme Register adds:
//
//	mcast+cluster
//	mcast+cluster?group=&iface=&interval=&peer-ttl=&ttl=&max-peers=&secret-file=
const Scheme = "mcast"

// Register adds the mcast scheme to r, a Registry the program built
// (seeds.Default() or seeds.NewRegistry()); nothing is registered
// globally. The scheme is not in seeds.Default, so that a program that
// never names multicast does not link its code:
//
//	r := seeds.Default()
//	if err := multicast.Register(r); err != nil { ... }
//	d, err := r.Parse("mcast+chat?secret-file=/etc/chat/mcast.key")
func Register(r *seeds.Registry) error {
	if r == nil {
		return errors.New("multicast: Register: nil Registry")
	}
	return r.Register(Scheme, parseMulticast)
}
