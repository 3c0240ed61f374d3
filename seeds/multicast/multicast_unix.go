//go:build unix

package multicast

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reuseAddrControl lets every node on a host bind the group's port.
func reuseAddrControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// multicastBindAddr binds to the group address itself, so that the socket
// receives only the group's datagrams, not unicast ones to the same port.
func multicastBindAddr(group *net.UDPAddr) string { return group.String() }
