package kernel

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// requestBatch is how many requests one sendmsg carries. The kernel runs the requests of one
// message one after the other in that call and acks each, so a cold start's 30,000 requests
// cost 500 round trips instead of 30,000 (each with its Go-side request, parse and wake-up).
// The acks of a batch (36 bytes each, ~1 KiB of socket buffer) must fit the socket's receive
// buffer, or the kernel drops them; 64 stays well inside the default 208 KiB.
const requestBatch = 64

// sendBatch sends reqs, at most requestBatch of them, through sock in one sendmsg and
// returns each one's result: nil when acked, the kernel's errno otherwise, or the socket's
// error for a request that was not sent or not acked.
func sendBatch(sock *nl.SocketHandle, reqs []*nl.NetlinkRequest) []error {
	if len(reqs) == 0 {
		return nil
	}
	s := sock.Socket
	s.Lock()
	defer s.Unlock()
	pid, err := s.GetPid()
	if err != nil {
		errs := make([]error, len(reqs))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	return sendGroup(s, pid, &sock.Seq, reqs)
}

// sendGroup sends reqs in one sendmsg and returns their results.
func sendGroup(s *nl.NetlinkSocket, pid uint32, seq *uint32, reqs []*nl.NetlinkRequest) []error {
	errs := make([]error, len(reqs))
	acked := make([]bool, len(reqs))
	var buf []byte
	base := atomic.AddUint32(seq, uint32(len(reqs))) - uint32(len(reqs)) + 1
	for i, req := range reqs {
		req.Flags |= unix.NLM_F_ACK
		req.Seq = base + uint32(i)
		buf = append(buf, req.Serialize()...)
	}
	fail := func(err error) []error {
		for i := range errs {
			if !acked[i] {
				errs[i] = err
			}
		}
		return errs
	}
	if err := unix.Sendto(s.GetFd(), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail(fmt.Errorf("send %d netlink requests: %w", len(reqs), err))
	}
	left := len(reqs)
	for left > 0 {
		msgs, from, err := s.Receive()
		if err != nil {
			return fail(fmt.Errorf("netlink acks: %w", err))
		}
		if from.Pid != nl.PidKernel {
			continue
		}
		for _, m := range msgs {
			i := int(m.Header.Seq - base)
			if m.Header.Pid != pid || m.Header.Type != unix.NLMSG_ERROR || i < 0 || i >= len(reqs) || acked[i] {
				continue // not an ack of this group (a late answer to an earlier request)
			}
			if len(m.Data) < 4 {
				errs[i] = fmt.Errorf("netlink ack of %d bytes", len(m.Data))
			} else if errno := int32(nl.NativeEndian().Uint32(m.Data[:4])); errno != 0 {
				errs[i] = syscall.Errno(-errno)
			}
			acked[i] = true
			left--
		}
	}
	return errs
}

// localRouteDelRequest is the request deleting the kernel's local-table entry for ip on the
// device with index (what localRoute describes), for a batch.
func localRouteDelRequest(index int, ip netip.Addr) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_DELROUTE, unix.NLM_F_ACK)
	msg := nl.NewRtDelMsg()
	msg.Family = uint8(family(ip))
	msg.Dst_len = uint8(ip.BitLen())
	msg.Table = unix.RT_TABLE_LOCAL
	msg.Type = unix.RTN_LOCAL
	msg.Scope = unix.RT_SCOPE_NOWHERE
	if ip.Is4() {
		msg.Scope = unix.RT_SCOPE_HOST
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.RTA_DST, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.RTA_OIF, nl.Uint32Attr(uint32(index))))
	return req
}

// ruleAddRequest is the request adding the agent's rule of it (`ip rule add to DST lookup
// TABLE priority PRIO`), for a batch.
func ruleAddRequest(it item, opts WiringOptions) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	dst := it.dst()
	msg := nl.NewRtMsg() // struct fib_rule_hdr has the layout of struct rtmsg
	msg.Family = uint8(family(dst.Addr()))
	msg.Dst_len = uint8(dst.Bits())
	msg.Protocol, msg.Scope = 0, 0 // res1, res2
	msg.Type = unix.FR_ACT_TO_TBL  // action
	msg.Table = unix.RT_TABLE_UNSPEC
	if it.table < 256 {
		msg.Table = uint8(it.table)
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.FRA_DST, dst.Addr().AsSlice()))
	req.AddData(nl.NewRtAttr(unix.FRA_PRIORITY, nl.Uint32Attr(opts.RulePriority)))
	req.AddData(nl.NewRtAttr(unix.FRA_TABLE, nl.Uint32Attr(it.table)))
	return req
}

// routeAddRequest is the request adding the agent's route of it through the device with
// index (what routeOf describes), for a batch.
func routeAddRequest(it item, index int, opts WiringOptions) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	dst, via := it.dst(), it.via()
	msg := nl.NewRtMsg()
	msg.Family = uint8(family(dst.Addr()))
	msg.Dst_len = uint8(dst.Bits())
	msg.Protocol = opts.RouteProtocol
	msg.Scope = unix.RT_SCOPE_UNIVERSE
	msg.Type = unix.RTN_UNICAST
	msg.Table = unix.RT_TABLE_UNSPEC
	if it.table < 256 {
		msg.Table = uint8(it.table)
	}
	if via.IsValid() {
		msg.Flags = unix.RTNH_F_ONLINK
	} else if dst.Addr().Is4() {
		msg.Scope = unix.RT_SCOPE_LINK
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.RTA_TABLE, nl.Uint32Attr(it.table)))
	req.AddData(nl.NewRtAttr(unix.RTA_DST, dst.Addr().AsSlice()))
	if via.IsValid() {
		req.AddData(nl.NewRtAttr(unix.RTA_GATEWAY, via.AsSlice()))
	}
	req.AddData(nl.NewRtAttr(unix.RTA_OIF, nl.Uint32Attr(uint32(index))))
	return req
}
