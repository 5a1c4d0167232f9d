package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The watcher's subscriptions carry a socket filter (classic BPF, run by the kernel before a
// notification is queued to the socket), so that the agent is sent only what it may act on:
// the route group brings every route anyone installs (zebra's BGP routes, the agent's own
// adds, and at a cold start an insertion and a deletion of a local-table entry per address),
// the neighbour group every ARP and NDP state change, the rule group every rule added. What
// the filter drops costs neither a wake-up nor socket buffer (a burst overflowed the buffer,
// ENOBUFS, and each overflow costs a full pass), nor a parse.

// Offsets in a notification: struct nlmsghdr (16 bytes), then struct rtmsg.
const (
	offNlmsgType = 4
	offRtmTable  = unix.SizeofNlMsghdr + 4
	offRtmProto  = unix.SizeofNlMsghdr + 5
	offRtmType   = unix.SizeofNlMsghdr + 7
)

// bpfHalf is what a BPF halfword load (network byte order) reads for the nlmsg_type v, which
// the kernel writes in host byte order.
func bpfHalf(v uint16) uint32 {
	var b [2]byte
	nl.NativeEndian().PutUint16(b[:], v)
	return uint32(binary.BigEndian.Uint16(b[:]))
}

func bpfStmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func bpfJeq(k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}

const (
	bpfLoadHalf = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
	bpfLoadByte = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
	bpfRet      = unix.BPF_RET | unix.BPF_K
	bpfAccept   = 0xffffffff // the whole message
)

// typeFilter passes the notifications of message type typ only.
func typeFilter(typ uint16) []unix.SockFilter {
	return []unix.SockFilter{
		bpfStmt(bpfLoadHalf, offNlmsgType),
		bpfJeq(bpfHalf(typ), 0, 1),
		bpfStmt(bpfRet, bpfAccept),
		bpfStmt(bpfRet, 0),
	}
}

// routeNoteFilter passes the route notifications the watcher acts on: a route with the agent's
// protocol deleted, and a local-table entry inserted (an exposed address must not be
// host-local).
func routeNoteFilter(proto uint8) []unix.SockFilter {
	return []unix.SockFilter{
		/* 0 */ bpfStmt(bpfLoadHalf, offNlmsgType),
		/* 1 */ bpfJeq(bpfHalf(unix.RTM_DELROUTE), 0, 2), // deleted: 2, else 4
		/* 2 */ bpfStmt(bpfLoadByte, offRtmProto),
		/* 3 */ bpfJeq(uint32(proto), 5, 6), // the agent's: accept (9), else drop (10)
		/* 4 */ bpfJeq(bpfHalf(unix.RTM_NEWROUTE), 0, 5), // added: 5, else drop
		/* 5 */ bpfStmt(bpfLoadByte, offRtmTable),
		/* 6 */ bpfJeq(unix.RT_TABLE_LOCAL, 0, 3), // the local table: 7, else drop
		/* 7 */ bpfStmt(bpfLoadByte, offRtmType),
		/* 8 */ bpfJeq(unix.RTN_LOCAL, 0, 1), // a local entry: accept, else drop
		/* 9 */ bpfStmt(bpfRet, bpfAccept),
		/* 10 */ bpfStmt(bpfRet, 0),
	}
}

// subscribe sends the notifications of groups in ns that filter (nil: all) lets through and
// parse accepts to ch until done is closed (then ch is closed). parse returning ok false
// skips a message.
func subscribe[T any](ns netns.NsHandle, filter []unix.SockFilter, parse func(typ uint16, m []byte) (T, bool), ch chan<- T,
	done <-chan struct{}, onErr func(error), groups ...uint) error {
	s, err := nl.SubscribeAt(ns, netns.None(), unix.NETLINK_ROUTE, groups...)
	if err != nil {
		return err
	}
	// Receive blocks in recvfrom, which closing the socket does not interrupt: wake up
	// regularly to see whether the subscription is still wanted.
	if err := s.SetReceiveTimeout(&unix.Timeval{Sec: 0, Usec: 200_000}); err != nil {
		s.Close()
		return err
	}
	if err := s.SetReceiveBufferSize(subscriptionRcvBuf, true); err != nil {
		s.Close()
		return err
	}
	if filter != nil {
		prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		if err := unix.SetsockoptSockFprog(s.GetFd(), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			s.Close()
			return fmt.Errorf("attach the subscription's filter: %w", err)
		}
	}
	go func() {
		defer close(ch)
		defer s.Close()
		for {
			select {
			case <-done:
				return
			default:
			}
			msgs, _, err := s.Receive()
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				onErr(err) // e.g. ENOBUFS: events were lost
				return
			}
			for _, m := range msgs {
				v, ok := parse(m.Header.Type, m.Data)
				if !ok {
					continue
				}
				select {
				case ch <- v:
				case <-done:
					return
				}
			}
		}
	}()
	return nil
}

// routeNote is a route notification as the watcher reads it: only the fields the mirrors
// compare (evRouteDeleted's), since the routes channel holds thousands of them (watch.go).
type routeNote struct {
	deleted bool // RTM_DELROUTE; else RTM_NEWROUTE
	proto   uint8
	rtType  uint8
	onlink  bool
	multi   bool // a multipath route (never the agent's shape)
	index   int32
	table   uint32
	metric  uint32
	dst     netip.Prefix // nil destination: the family's default
	via     netip.Addr
}

// event is the deleted route as the mirrors judge it.
func (n routeNote) event() event {
	return event{kind: evRouteDeleted, index: int(n.index), dst: n.dst, table: n.table, metric: n.metric, via: n.via,
		onlink: n.onlink, multi: n.multi}
}

// parseRouteNote decodes an RTM_NEWROUTE or RTM_DELROUTE notification, as a dump's reply is
// decoded (parseRouteHeader, parseRouteAttrs).
func parseRouteNote(typ uint16, m []byte) (routeNote, bool) {
	if typ != unix.RTM_NEWROUTE && typ != unix.RTM_DELROUTE {
		return routeNote{}, false
	}
	var r leanRoute
	if ok, err := parseRouteHeader(m, &r); err != nil || !ok {
		return routeNote{}, false
	}
	if parseRouteAttrs(m, &r) != nil {
		return routeNote{}, false
	}
	return routeNote{deleted: typ == unix.RTM_DELROUTE, proto: r.protocol, rtType: r.typ, table: r.table,
		index: int32(r.oif), metric: r.priority, dst: r.dst, via: r.gw, multi: r.multi,
		onlink: r.flags&unix.RTNH_F_ONLINK != 0 && r.gw.IsValid()}, true
}

// addrNote is an address notification as the watcher reads it.
type addrNote struct {
	deleted bool
	index   int
	ip      netip.Addr
	host    bool // a /32 or /128
}

func parseAddrNote(typ uint16, m []byte) (addrNote, bool) {
	if typ != unix.RTM_NEWADDR && typ != unix.RTM_DELADDR {
		return addrNote{}, false
	}
	ad, index, err := parseAddr(m)
	if err != nil {
		return addrNote{}, false
	}
	return addrNote{deleted: typ == unix.RTM_DELADDR, index: index, ip: ad.ip,
		host: ad.ip.IsValid() && ad.prefixLen == ad.ip.BitLen()}, true
}
