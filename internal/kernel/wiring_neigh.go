package kernel

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// rawNeigh is a neighbour or NDP proxy entry as the kernel dumps it, with its protocol.
type rawNeigh struct {
	index int
	addr  netip.Addr
	mac   string
	state uint16
	proxy bool
	proto uint8
}

// neighDump lists the neighbours (or, with proxy, the proxy entries) of one family.
func (n *netlinkWiring) neighDump(fam uint8, proxy bool) ([]rawNeigh, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETNEIGH, unix.NLM_F_DUMP)
	msg := &netlink.Ndmsg{Family: fam}
	if proxy {
		msg.Flags = netlink.NTF_PROXY
	}
	req.AddData(msg)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: n.sock}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWNEIGH)
	if err != nil {
		return nil, err
	}
	var out []rawNeigh
	for _, m := range msgs {
		nb, fam2, err := parseNeigh(m)
		if err != nil {
			return nil, err
		}
		if nb.proxy == proxy && fam2 == fam && nb.addr.IsValid() {
			out = append(out, nb)
		}
	}
	return out, nil
}

// parseNeigh decodes the body of an RTM_NEWNEIGH/RTM_DELNEIGH message, with the protocol the
// netlink library drops.
func parseNeigh(m []byte) (rawNeigh, uint8, error) {
	if len(m) < unix.SizeofNdMsg {
		return rawNeigh{}, 0, fmt.Errorf("neighbour message of %d bytes", len(m))
	}
	nb := rawNeigh{
		index: int(int32(nl.NativeEndian().Uint32(m[4:8]))),
		state: nl.NativeEndian().Uint16(m[8:10]),
		proxy: m[10]&netlink.NTF_PROXY != 0,
	}
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofNdMsg:])
	if err != nil {
		return rawNeigh{}, 0, fmt.Errorf("parse neighbour message: %w", err)
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.NDA_DST:
			if ip, ok := netip.AddrFromSlice(a.Value); ok {
				nb.addr = ip.Unmap()
			}
		case unix.NDA_LLADDR:
			nb.mac = net.HardwareAddr(a.Value).String()
		case ndaProtocol:
			if len(a.Value) > 0 {
				nb.proto = a.Value[0]
			}
		}
	}
	return nb, m[0], nil
}

// neighRequest adds (RTM_NEWNEIGH) or deletes a permanent neighbour or proxy entry on its device.
func (n *netlinkWiring) neighRequest(op int, it item, proto uint8) error {
	index, err := n.linkIndex(it.dev())
	if err != nil {
		return err
	}
	return n.neighRequestIndex(op, it, index, proto)
}

func (n *netlinkWiring) neighRequestIndex(op int, it item, index int, proto uint8) error {
	flags := unix.NLM_F_ACK
	if op == unix.RTM_NEWNEIGH {
		flags |= unix.NLM_F_CREATE | unix.NLM_F_REPLACE
	}
	req := nl.NewNetlinkRequest(op, flags)
	fam := uint8(unix.AF_INET6)
	if it.addr().Is4() {
		fam = unix.AF_INET
	}
	msg := &netlink.Ndmsg{Family: fam, Index: uint32(index), State: unix.NUD_PERMANENT, Type: unix.RTN_UNICAST}
	if it.kind == kindProxy {
		msg.Flags = netlink.NTF_PROXY
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.NDA_DST, it.addr().AsSlice()))
	if op == unix.RTM_NEWNEIGH {
		if it.kind == kindNeigh {
			mac, err := net.ParseMAC(it.mac())
			if err != nil {
				return err
			}
			req.AddData(nl.NewRtAttr(unix.NDA_LLADDR, mac))
		}
		req.AddData(nl.NewRtAttr(ndaProtocol, []byte{proto}))
	}
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: n.sock}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
