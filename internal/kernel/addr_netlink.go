package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Raw RTM_GETADDR/RTM_NEWADDR requests: the netlink library's Addr has no route metric
// (IFA_RT_PRIORITY, Linux 4.18), which is how the agent tells FRR an address's kind
// (internal/frr/kinds.go). The requests go through the applier's own route socket, opened in
// the same network namespace as its handle.

// rawAddr is an address of the NIC as the kernel dumps it, with its metric.
type rawAddr struct {
	ip        netip.Addr // IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL
	prefixLen int
	peer      bool // a point-to-point address (IFA_ADDRESS is a peer, not the local address)
	metric    uint32
	flags     uint32 // IFA_FLAGS, or the header's 8-bit flags on old kernels
}

// addrDump lists the addresses of the device with index, both families (the kernel filters
// them by device where it can: dump_netlink.go).
func (a *Applier) addrDump(index int) ([]rawAddr, error) {
	var out []rawAddr
	err := a.dump.addrs(index, func(_ int, m []byte) error {
		ad, _, err := parseAddr(m)
		if err == nil && ad.ip.IsValid() {
			out = append(out, ad)
		}
		return err
	})
	return out, err
}

// indexedAddr is an address with its device.
type indexedAddr struct {
	rawAddr
	index int
}

// addrDumpWhere lists the addresses, both families, of the devices keep accepts. A message of
// another device is skipped by its header, unparsed: the NIC holds thousands of addresses the
// node facts never need.
func (a *Applier) addrDumpWhere(keep func(index int) bool) ([]indexedAddr, error) {
	var out []indexedAddr
	err := a.dump.addrs(0, func(index int, m []byte) error {
		if !keep(index) {
			return nil
		}
		ad, idx, err := parseAddr(m)
		if err == nil && ad.ip.IsValid() {
			out = append(out, indexedAddr{ad, idx})
		}
		return err
	})
	return out, err
}

// addrDumpOf lists the addresses, both families, of the device with index, which the kernel
// filters (dumper.strict).
func (a *Applier) addrDumpOf(index int) ([]indexedAddr, error) {
	var out []indexedAddr
	err := a.dump.addrs(index, func(_ int, m []byte) error {
		ad, idx, err := parseAddr(m)
		if err == nil && ad.ip.IsValid() {
			out = append(out, indexedAddr{ad, idx})
		}
		return err
	})
	return out, err
}

// parseAddr decodes the body of an RTM_NEWADDR message and returns the device index with it.
func parseAddr(m []byte) (rawAddr, int, error) {
	if len(m) < unix.SizeofIfAddrmsg {
		return rawAddr{}, 0, fmt.Errorf("address message of %d bytes", len(m))
	}
	ne := binary.NativeEndian
	ad := rawAddr{prefixLen: int(m[1]), flags: uint32(m[2])}
	index := int(int32(ne.Uint32(m[4:8])))
	var local, address netip.Addr
	it := attrIter{b: m[unix.SizeofIfAddrmsg:]}
	for typ, v, ok := it.next(); ok; typ, v, ok = it.next() {
		switch typ {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(v)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(v)
		case unix.IFA_FLAGS:
			if len(v) >= 4 {
				ad.flags = ne.Uint32(v)
			}
		case unix.IFA_RT_PRIORITY:
			if len(v) >= 4 {
				ad.metric = ne.Uint32(v)
			}
		}
	}
	if it.err != nil {
		return rawAddr{}, 0, fmt.Errorf("parse address message: %w", it.err)
	}
	// The kernel sends IFA_LOCAL (IPv4 always, IPv6 only with a peer) as the address and
	// IFA_ADDRESS as the peer; they differ only on point-to-point addresses.
	ad.ip = address.Unmap()
	if local.IsValid() {
		ad.ip = local.Unmap()
		ad.peer = address.IsValid() && address != local
	}
	return ad, index, nil
}

// addrSetRequest adds ip/32 or ip/128 with metric to the device with index, or with replace
// changes the metric of the address in place (`ip addr change`): no RTM_DELADDR, so FRR
// never sees the prefix go. IPv6 addresses get nodad, so they are usable at once; the
// replace repeats it, because an IPv6 replace sets the flags it is given.
func addrSetRequest(index int, ip netip.Addr, metric uint32, replace bool) *nl.NetlinkRequest {
	flags := unix.NLM_F_ACK | unix.NLM_F_CREATE | unix.NLM_F_EXCL
	if replace {
		flags = unix.NLM_F_ACK | unix.NLM_F_REPLACE
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, flags)
	fam := unix.AF_INET
	var ifaFlags uint32
	if ip.Is6() {
		fam = unix.AF_INET6
		ifaFlags = unix.IFA_F_NODAD
	}
	msg := nl.NewIfAddrmsg(fam)
	msg.Prefixlen = uint8(ip.BitLen())
	msg.Index = uint32(index)
	msg.Flags = uint8(ifaFlags)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(ifaFlags)))
	// Sent also when 0: on a replace, that is how a metric is taken away.
	req.AddData(nl.NewRtAttr(unix.IFA_RT_PRIORITY, nl.Uint32Attr(metric)))
	return req
}
