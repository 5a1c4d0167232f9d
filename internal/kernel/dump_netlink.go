package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A full pass reads back every address, rule and route of the agent's: at 10,000 exposures,
// tens of thousands of netlink objects. The netlink library parses each into an object with
// all its fields (and every route of every table before it filters), in a new 64 KiB buffer
// per read; that was most of an idle full pass. A dumper reads the kernel's messages into one
// buffer kept from dump to dump and hands each message to a parser of the few attributes the
// agent reads, and it asks the kernel to filter route and address dumps
// (NETLINK_GET_STRICT_CHK): by table, protocol, type and device. Callers filter again
// themselves, so a kernel without strict checking (before Linux 4.20) only costs more.

// dumpBufSize is the dumper's receive buffer: what the kernel fills per read.
const dumpBufSize = 64 << 10

// dumpTimeout bounds each read of a dump: a kernel that stops answering fails the pass,
// which is retried, instead of hanging it.
const dumpTimeout = 10 * time.Second

// dumper runs netlink dumps on its own route socket, opened in the applier's namespace.
type dumper struct {
	fd     int
	pid    uint32
	seq    atomic.Uint32
	strict bool // the kernel filters dumps by the request's header and attributes
	buf    []byte
}

// newDumper opens a dumper's socket in ns (a closed handle: the current namespace).
func newDumper(ns netns.NsHandle) (*dumper, error) {
	d := &dumper{fd: -1, buf: make([]byte, dumpBufSize)}
	err := inNetns(ns, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		d.fd = fd
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open netlink dump socket: %w", err)
	}
	if err := unix.Bind(d.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		d.close()
		return nil, fmt.Errorf("bind netlink dump socket: %w", err)
	}
	sa, err := unix.Getsockname(d.fd)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("netlink dump socket: %w", err)
	}
	if nsa, ok := sa.(*unix.SockaddrNetlink); ok {
		d.pid = nsa.Pid
	}
	tv := unix.NsecToTimeval(dumpTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(d.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		d.close()
		return nil, fmt.Errorf("netlink dump socket: %w", err)
	}
	d.strict = unix.SetsockoptInt(d.fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1) == nil
	return d, nil
}

func (d *dumper) close() {
	if d != nil && d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// dump sends a dump request of type typ with body (the family header and attributes) and
// calls fn with the body of each reply message of type want, until the kernel is done or fn
// fails. The body fn gets is only valid during the call. A dump the kernel marked
// interrupted (the state changed while it was read) returns netlink.ErrDumpInterrupted,
// after all its messages were handed over: retryDump runs it again.
func (d *dumper) dump(typ uint16, body []byte, want uint16, fn func(m []byte) error) error {
	if d == nil || d.fd < 0 {
		return errors.New("netlink dump socket is closed")
	}
	seq := d.seq.Add(1)
	req := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	req = append(req, body...)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:4], uint32(len(req)))
	ne.PutUint16(req[4:6], typ)
	ne.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:12], seq)
	ne.PutUint32(req[12:16], d.pid)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send netlink dump request: %w", err)
	}
	var (
		intr  bool
		fnErr error
	)
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read netlink dump: %w", err)
		}
		b := d.buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(ne.Uint32(b[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return fmt.Errorf("netlink dump: message of %d bytes in %d", l, len(b))
			}
			mtype, flags, mseq := ne.Uint16(b[4:6]), ne.Uint16(b[6:8]), ne.Uint32(b[8:12])
			m := b[unix.NLMSG_HDRLEN:l]
			b = b[min(nlmAlign(l), len(b)):]
			if mseq != seq {
				continue // a late reply to an earlier request
			}
			if flags&unix.NLM_F_DUMP_INTR != 0 {
				intr = true
			}
			switch mtype {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				if len(m) >= 4 {
					if errno := int32(ne.Uint32(m[0:4])); errno < 0 {
						return fmt.Errorf("netlink dump: %w", unix.Errno(-errno))
					}
				}
				switch {
				case fnErr != nil:
					return fnErr
				case intr:
					return netlink.ErrDumpInterrupted
				}
				return nil
			case want:
				if fnErr == nil {
					fnErr = fn(m)
				}
			}
		}
	}
}

// nlaTypeMask clears an attribute type's NLA_F_NESTED and NLA_F_NET_BYTEORDER bits.
const nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)

func nlmAlign(l int) int { return (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// attrIter walks the attributes of a message: a loop over next, then err.
type attrIter struct {
	b   []byte
	err error
}

// next returns the next attribute's type (without the nested and byte-order flags) and
// value; ok is false at the end, or on a malformed attribute (err).
func (it *attrIter) next() (typ uint16, v []byte, ok bool) {
	if len(it.b) < unix.SizeofRtAttr {
		return 0, nil, false
	}
	l := int(binary.NativeEndian.Uint16(it.b[0:2]))
	if l < unix.SizeofRtAttr || l > len(it.b) {
		it.err = fmt.Errorf("netlink attribute of %d bytes in %d", l, len(it.b))
		return 0, nil, false
	}
	typ, v = binary.NativeEndian.Uint16(it.b[2:4])&nlaTypeMask, it.b[unix.SizeofRtAttr:l]
	it.b = it.b[min((l+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1), len(it.b)):]
	return typ, v, true
}

func u32attr(typ uint16, v uint32) []byte {
	b := make([]byte, 8)
	ne := binary.NativeEndian
	ne.PutUint16(b[0:2], 8)
	ne.PutUint16(b[2:4], typ)
	ne.PutUint32(b[4:8], v)
	return b
}

// leanRoute is a route as a dump gives it: the fields the agent reads and deletes by.
type leanRoute struct {
	family   uint8
	dst      netip.Prefix // the family's default (0.0.0.0/0, ::/0) when the route has no RTA_DST
	table    uint32
	protocol uint8
	scope    uint8
	typ      uint8
	tos      uint8
	flags    uint32 // rtm_flags: RTNH_F_ONLINK, RTM_F_CLONED, ...
	oif      int
	gw       netip.Addr
	priority uint32
	multi    bool // RTA_MULTIPATH: several next hops
	// odd is set when the route has an attribute the agent never sets (an encapsulation, a
	// nexthop object, a source address, metrics, ...): a read-back that needs the
	// route's exact shape asks the netlink library for it instead.
	odd bool
}

// routeFilter is what a route dump asks the kernel to keep (zero fields: any).
type routeFilter struct {
	table    uint32
	protocol uint8
	typ      uint8
	oif      int
}

func (f routeFilter) keeps(r *leanRoute) bool {
	return (f.table == 0 || r.table == f.table) && (f.protocol == 0 || r.protocol == f.protocol) &&
		(f.typ == 0 || r.typ == f.typ) && (f.oif == 0 || r.oif == f.oif)
}

// routes dumps the IPv4 and IPv6 unicast routes f keeps (no cached clones) and calls fn with
// each; the route is only valid during the call.
func (d *dumper) routes(f routeFilter, fn func(r *leanRoute) error) error {
	body := make([]byte, unix.SizeofRtMsg)
	if d.strict {
		body[5], body[7] = f.protocol, f.typ // rtm_protocol, rtm_type
		if f.table != 0 {
			body = append(body, u32attr(unix.RTA_TABLE, f.table)...)
		}
		if f.oif != 0 {
			body = append(body, u32attr(unix.RTA_OIF, uint32(f.oif))...)
		}
	}
	var r leanRoute
	return d.dump(unix.RTM_GETROUTE, body, unix.RTM_NEWROUTE, func(m []byte) error {
		if ok, err := parseRouteHeader(m, &r); err != nil || !ok {
			return err
		}
		if r.flags&unix.RTM_F_CLONED != 0 || (f.protocol != 0 && r.protocol != f.protocol) || (f.typ != 0 && r.typ != f.typ) {
			return nil
		}
		if err := parseRouteAttrs(m, &r); err != nil {
			return err
		}
		if !f.keeps(&r) {
			return nil
		}
		return fn(&r)
	})
}

// parseRouteHeader starts r from the struct rtmsg of a route message, a dump's reply or a
// notification; ok is false for a family other than IPv4 and IPv6.
func parseRouteHeader(m []byte, r *leanRoute) (ok bool, err error) {
	if len(m) < unix.SizeofRtMsg {
		return false, fmt.Errorf("route message of %d bytes", len(m))
	}
	fam := m[0]
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return false, nil
	}
	*r = leanRoute{family: fam, table: uint32(m[4]), protocol: m[5], scope: m[6], typ: m[7], tos: m[3],
		flags: binary.NativeEndian.Uint32(m[8:12])}
	return true, nil
}

// parseRouteAttrs completes r, started by parseRouteHeader, from the attributes of m.
func parseRouteAttrs(m []byte, r *leanRoute) error {
	dstLen := int(m[1])
	ne := binary.NativeEndian
	it := attrIter{b: m[unix.SizeofRtMsg:]}
	for typ, v, ok := it.next(); ok; typ, v, ok = it.next() {
		switch typ {
		case unix.RTA_DST:
			if a, ok := netip.AddrFromSlice(v); ok {
				r.dst = netip.PrefixFrom(a.Unmap(), dstLen)
			}
		case unix.RTA_TABLE:
			if len(v) >= 4 {
				r.table = ne.Uint32(v)
			}
		case unix.RTA_OIF:
			if len(v) >= 4 {
				r.oif = int(int32(ne.Uint32(v)))
			}
		case unix.RTA_GATEWAY:
			if a, ok := netip.AddrFromSlice(v); ok {
				r.gw = a.Unmap()
			}
		case unix.RTA_PRIORITY:
			if len(v) >= 4 {
				r.priority = ne.Uint32(v)
			}
		case unix.RTA_PREF:
			// An IPv6 route's router preference; the library's routes leave it out too.
		case unix.RTA_MULTIPATH:
			r.multi = true
		case unix.RTA_CACHEINFO:
			// Statistics; never part of a route's identity.
		default:
			r.odd = true
		}
	}
	if it.err != nil {
		return fmt.Errorf("parse route message: %w", it.err)
	}
	if !r.dst.IsValid() { // a default route: as the netlink library and iproute2 show it
		r.dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.family == unix.AF_INET6 {
			r.dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	}
	return nil
}

// netlinkRoute is the library's route for r, as the library's own dump gives it, for the
// requests that delete it.
func (r *leanRoute) netlinkRoute() netlink.Route {
	out := netlink.Route{Family: int(r.family), Table: int(r.table), Protocol: netlink.RouteProtocol(r.protocol),
		Scope: netlink.Scope(r.scope), Type: int(r.typ), Tos: int(r.tos), Flags: int(r.flags), LinkIndex: r.oif,
		Priority: int(r.priority)}
	out.Dst = prefixNet(r.dst)
	if r.gw.IsValid() {
		out.Gw = r.gw.AsSlice()
	}
	return out
}

// leanRule is an ip rule as a dump gives it.
type leanRule struct {
	family   uint8
	dst      netip.Prefix
	table    uint32
	priority uint32
	hasPrio  bool
	// plain is set when the rule is exactly `to DST lookup TABLE` at its priority: no source,
	// devices, marks, ports, inversion or other action. Anything else the agent reads
	// through the netlink library.
	plain bool
}

// rules dumps the IPv4 and IPv6 rules and calls fn with each; the rule is only valid during
// the call. The kernel filters no rule dump: every rule of the node comes, and fn sees the
// priority first.
func (d *dumper) rules(fn func(r *leanRule) error) error {
	body := make([]byte, 12) // struct fib_rule_hdr, family AF_UNSPEC: both families
	var r leanRule
	return d.dump(unix.RTM_GETRULE, body, unix.RTM_NEWRULE, func(m []byte) error {
		if ok, err := parseRule(m, &r); err != nil || !ok {
			return err
		}
		return fn(&r)
	})
}

// parseRule decodes the body of an RTM_NEWRULE/RTM_DELRULE message (struct fib_rule_hdr and
// its attributes), a dump's reply or a notification; ok is false for a family other than
// IPv4 and IPv6.
func parseRule(m []byte, r *leanRule) (ok bool, err error) {
	if len(m) < 12 {
		return false, fmt.Errorf("rule message of %d bytes", len(m))
	}
	fam := m[0]
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return false, nil
	}
	// family, dst_len, src_len, tos, table, res1, res2, action; flags (u32).
	*r = leanRule{family: fam, table: uint32(m[4]),
		plain: m[2] == 0 && m[3] == 0 && m[7] == unix.FR_ACT_TO_TBL && binary.NativeEndian.Uint32(m[8:12]) == 0}
	dstLen := int(m[1])
	ne := binary.NativeEndian
	it := attrIter{b: m[12:]}
	for typ, v, ok := it.next(); ok; typ, v, ok = it.next() {
		switch typ {
		case unix.FRA_PRIORITY:
			if len(v) >= 4 {
				r.priority, r.hasPrio = ne.Uint32(v), true
			}
		case unix.FRA_TABLE:
			if len(v) >= 4 {
				r.table = ne.Uint32(v)
			}
		case unix.FRA_DST:
			if a, ok := netip.AddrFromSlice(v); ok {
				r.dst = netip.PrefixFrom(a.Unmap(), dstLen)
			}
		case unix.FRA_SUPPRESS_PREFIXLEN:
			if len(v) < 4 || ne.Uint32(v) != ^uint32(0) {
				r.plain = false
			}
		case unix.FRA_SUPPRESS_IFGROUP:
			if len(v) < 4 || ne.Uint32(v) != ^uint32(0) {
				r.plain = false
			}
		case unix.FRA_PROTOCOL:
			// Who added it; the agent's rules are known by their priority.
		default:
			r.plain = false
		}
	}
	if it.err != nil {
		return false, fmt.Errorf("parse rule message: %w", it.err)
	}
	if !r.dst.IsValid() || r.table == 0 {
		r.plain = false
	}
	return true, nil
}

// addrs dumps the addresses of the device with index (0: every device), both families, and
// calls fn with each message's device index and body; fn skips a device by its index without
// parsing (parseAddr).
func (d *dumper) addrs(index int, fn func(index int, m []byte) error) error {
	body := make([]byte, unix.SizeofIfAddrmsg)
	if d.strict {
		binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	}
	return d.dump(unix.RTM_GETADDR, body, unix.RTM_NEWADDR, func(m []byte) error {
		if len(m) < unix.SizeofIfAddrmsg {
			return fmt.Errorf("address message of %d bytes", len(m))
		}
		i := int(int32(binary.NativeEndian.Uint32(m[4:8])))
		if index != 0 && i != index {
			return nil
		}
		return fn(i, m)
	})
}

// rtextFilterSkipStats is RTEXT_FILTER_SKIP_STATS (linux/rtnetlink.h, Linux 4.17): a link
// dump without the devices' statistics. An older kernel ignores it.
const rtextFilterSkipStats = 1 << 3

// linkName is a device as NodeAddresses needs it.
type linkName struct {
	index int
	name  string
}

// linkNames lists the devices, index and name only, without their statistics (the kernel is
// asked to skip them where it can): a compute node has a tap per VM, and the netlink library
// parses every attribute of every device (1,000 taps: 9 ms and 8 MB per listing).
func (d *dumper) linkNames() ([]linkName, error) {
	body := make([]byte, unix.SizeofIfInfomsg)
	body = append(body, u32attr(unix.IFLA_EXT_MASK, rtextFilterSkipStats)...)
	var out []linkName
	err := d.dump(unix.RTM_GETLINK, body, unix.RTM_NEWLINK, func(m []byte) error {
		if len(m) < unix.SizeofIfInfomsg {
			return fmt.Errorf("link message of %d bytes", len(m))
		}
		index := int(int32(binary.NativeEndian.Uint32(m[4:8])))
		it := attrIter{b: m[unix.SizeofIfInfomsg:]}
		for typ, v, ok := it.next(); ok; typ, v, ok = it.next() {
			if typ == unix.IFLA_IFNAME {
				out = append(out, linkName{index: index, name: string(bytes.TrimRight(v, "\x00"))})
				return nil
			}
		}
		if it.err != nil {
			return it.err
		}
		return fmt.Errorf("link %d without a name", index)
	})
	return out, err
}
