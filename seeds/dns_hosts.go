package seeds

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// DefaultHostsFile is the hosts file DNS reads before asking DNS servers,
// when neither DNSHostsFile nor DNSResolver is given.
const DefaultHostsFile = "/etc/hosts"

// DNSHostsFile makes DNS read the hosts file at path instead of
// /etc/hosts. The file is read on every Discover. It applies to DNS only
// (SRV records are never in a hosts file), and excludes DNSResolver,
// which asks its one server only.
func DNSHostsFile(path string) DNSOption {
	return dnsOption("DNSHostsFile", forDNS, func(c *dnsConfig) { c.hostsFile = path })
}

// hostsAddrs looks name up in the hosts file as Go's resolver does (a
// name the file lists is answered from it, and DNS is not asked: the
// "hosts: files dns" order of nsswitch.conf): the match ignores case and
// a final dot, and every line that lists the name adds its address. found
// reports whether the file lists the name; the addresses are those of the
// families of qtypes, which may be none. Without DNSHostsFile a missing
// or unreadable /etc/hosts lists nothing, as for Go; a DNSHostsFile that
// cannot be read is an error naming it.
func (c *dnsConfig) hostsAddrs(name string, qtypes []uint16) (addrs []netip.Addr, found bool, path string, err error) {
	path = c.hostsFile
	if path == "" {
		path = DefaultHostsFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if c.hostsFile == "" && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
			return nil, false, path, nil
		}
		return nil, false, path, fmt.Errorf("dns: hosts file: %w", err)
	}
	want := dns.CanonicalName(name) // lower case, with the final dot
	var v4, v6 []netip.Addr
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, perr := netip.ParseAddr(f[0])
		if perr != nil {
			continue
		}
		ip = ip.Unmap()
		if !slices.ContainsFunc(f[1:], func(n string) bool { return dns.CanonicalName(n) == want }) {
			continue
		}
		found = true
		if ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	for _, qt := range qtypes {
		fam := v4
		if qt == dns.TypeAAAA {
			fam = v6
		}
		slices.SortFunc(fam, netip.Addr.Compare)
		addrs = append(addrs, slices.Compact(fam)...)
	}
	return addrs, found, path, nil
}

// fromHostsFile answers d from the hosts file when it lists d's name
// (see hostsAddrs); ok is false when DNS servers must be asked.
func (d *dnsA) fromHostsFile() (ips []netip.Addr, ok bool, err error) {
	if d.cfg.resolver != "" {
		return nil, false, nil
	}
	qtypes := d.cfg.qtypes()
	ips, found, path, err := d.cfg.hostsAddrs(d.name, qtypes)
	switch {
	case err != nil:
		return nil, true, err
	case !found:
		return nil, false, nil
	case len(ips) == 0:
		// As Go's resolver: a name the hosts file lists is not asked
		// of DNS, even for a family the file has no address of.
		return nil, true, &DNSError{Name: dns.Fqdn(d.name), Qtype: dns.TypeToString[qtypes[0]], Server: path, Err: ErrNoRecords,
			Cause: errors.New("the hosts file lists the name with no address of this family, so DNS is not asked")}
	}
	return ips, true, nil
}
