package kernel

import (
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

// addrDump lists the addresses of the device with index, both families.
func (a *Applier) addrDump(index int) ([]rawAddr, error) {
	out, err := a.addrDumpWhere(func(i int) bool { return i == index })
	if err != nil {
		return nil, err
	}
	addrs := make([]rawAddr, len(out))
	for i, ad := range out {
		addrs[i] = ad.rawAddr
	}
	return addrs, nil
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
	req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: a.sock}
	var (
		out      []indexedAddr
		parseErr error
	)
	err := req.ExecuteIter(unix.NETLINK_ROUTE, unix.RTM_NEWADDR, func(m []byte) bool {
		if len(m) < unix.SizeofIfAddrmsg || !keep(int(int32(nl.NativeEndian().Uint32(m[4:8])))) {
			return true
		}
		ad, idx, err := parseAddr(m)
		if err != nil {
			parseErr = err
			return false
		}
		if ad.ip.IsValid() {
			out = append(out, indexedAddr{ad, idx})
		}
		return true
	})
	if err == nil {
		err = parseErr
	}
	return out, err
}

// parseAddr decodes the body of an RTM_NEWADDR message and returns the device index with it.
func parseAddr(m []byte) (rawAddr, int, error) {
	if len(m) < unix.SizeofIfAddrmsg {
		return rawAddr{}, 0, fmt.Errorf("address message of %d bytes", len(m))
	}
	ad := rawAddr{prefixLen: int(m[1]), flags: uint32(m[2])}
	index := int(int32(nl.NativeEndian().Uint32(m[4:8])))
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfAddrmsg:])
	if err != nil {
		return rawAddr{}, 0, fmt.Errorf("parse address message: %w", err)
	}
	var local, address netip.Addr
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_FLAGS:
			if len(at.Value) >= 4 {
				ad.flags = nl.NativeEndian().Uint32(at.Value)
			}
		case unix.IFA_RT_PRIORITY:
			if len(at.Value) >= 4 {
				ad.metric = nl.NativeEndian().Uint32(at.Value)
			}
		}
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
