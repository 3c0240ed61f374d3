//go:build !unix

package multicast

import (
	"net"
	"strconv"
	"syscall"
)

// reuseAddrControl does nothing here: on this platform only one node per
// host can listen on the group's port.
func reuseAddrControl(network, address string, c syscall.RawConn) error { return nil }

// multicastBindAddr binds to the wildcard address: not every platform can
// bind a multicast address.
func multicastBindAddr(group *net.UDPAddr) string {
	return "0.0.0.0:" + strconv.Itoa(group.Port)
}
