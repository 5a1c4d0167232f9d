package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// WatchOptions says which kernel events mean the agent's state was disturbed.
type WatchOptions struct {
	Netns         netns.NsHandle // closed handle: the current namespace
	RouteProtocol uint8          // the agent's routes, wherever they are
	RulePriority  uint32         // the agent's rules; 0: rules are not watched
	// Resync asks for a full pass after events were lost (a subscription that failed);
	// nil: trigger.
	Resync func(reason string)
	// Mirrors are the appliers that keep what they installed between passes (mirror.go):
	// an event they recognise as the echo of their own change triggers nothing, one that
	// contradicts a mirror drops every mirror (the next pass reads back), and a device change
	// or a lost subscription drops them too. Without mirrors every event triggers a pass.
	Mirrors []Mirrored
}

// judge combines the mirrors' verdicts on ev: a drift anywhere drops every mirror, since
// what one applier's state lost (an address, a device) the others' may have lost with it.
func (o WatchOptions) judge(ev event) verdict {
	v := notMine
	for _, m := range o.Mirrors {
		switch m.judge(ev) {
		case drift:
			o.forget()
			return drift
		case expected:
			v = expected
		}
	}
	return v
}

func (o WatchOptions) forget() {
	for _, m := range o.Mirrors {
		m.forget()
	}
}

// Watch calls trigger whenever something of the agent's may have gone: a host address
// (/32, /128) deleted, a route with the agent's protocol deleted (bridge tables or bgp-nic), a
// local-table entry (re)inserted (exposed addresses must stay non-host-local), a neighbour or
// proxy entry with the agent's protocol deleted, or a device created, deleted or set up or down (a
// restarted ovs-vswitchd recreates its bridge devices bare), or a rule at the agent's priority
// deleted. When a subscription fails (e.g. ENOBUFS under a burst)
// it resubscribes and triggers a full pass, since events were lost. It returns when ctx ends.
func Watch(ctx context.Context, o WatchOptions, trigger func(reason string), log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	resync := o.Resync
	if resync == nil {
		resync = trigger
	}
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(50*time.Millisecond),
		backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0))
	for {
		start := time.Now()
		err := watchOnce(ctx, o, trigger)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			bo.Reset()
		}
		wait := bo.NextBackOff()
		log.Warn("netlink subscription ended; resubscribing and running a full pass", "err", err, "retry_in", wait)
		o.forget()
		resync("netlink resubscribe")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// subscriptionRcvBuf is every subscription's socket receive buffer.
const subscriptionRcvBuf = 8 << 20

func watchOnce(ctx context.Context, o WatchOptions, trigger func(string)) error {
	done := make(chan struct{})
	defer close(done)
	errc := make(chan error, 4)
	onErr := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	var ns *netns.NsHandle
	if o.Netns.IsOpen() {
		ns = &o.Netns
	}
	// A cold start adds thousands of addresses at once, and each brings an address and a
	// local-route notification: with the default socket buffer the subscription overflowed
	// (ENOBUFS) and every overflow costs a full pass. The buffer is forced past rmem_max
	// (the agent runs as root), and the channels hold a burst while a pass runs. A channel's
	// buffer is allocated whole, for the agent's life: the address and route channels, which
	// take a cold start's burst, are the large ones; neighbours, rules and links come a few at a
	// time (a burst of them still has the socket's buffer).
	const burst, few = 8192, 1024
	const rcvbuf = subscriptionRcvBuf
	addrs := make(chan addrNote, burst)
	routes := make(chan routeNote, burst)
	neighs := make(chan rawNeigh, few)
	rules := make(chan leanRule, few)
	links := make(chan netlink.LinkUpdate, few)
	// Every address change counts (the node's own addresses are inputs of the core); of the
	// routes, neighbours and rules only what the watcher acts on is sent (subscribe.go).
	if err := subscribe(o.Netns, nil, parseAddrNote, addrs, done, onErr, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR); err != nil {
		return fmt.Errorf("subscribe to addresses: %w", err)
	}
	if err := subscribe(o.Netns, routeNoteFilter(o.RouteProtocol), parseRouteNote, routes, done, onErr,
		unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE); err != nil {
		return fmt.Errorf("subscribe to routes: %w", err)
	}
	if err := subscribe(o.Netns, typeFilter(unix.RTM_DELNEIGH), deleted(unix.RTM_DELNEIGH, parseNeighOnly), neighs, done, onErr,
		unix.RTNLGRP_NEIGH); err != nil {
		return fmt.Errorf("subscribe to neighbours: %w", err)
	}
	if err := subscribe(o.Netns, typeFilter(unix.RTM_DELRULE), deleted(unix.RTM_DELRULE, parseRuleNote), rules, done, onErr,
		unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE); err != nil {
		return fmt.Errorf("subscribe to rules: %w", err)
	}
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: ns, ErrorCallback: onErr,
		ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: true}); err != nil {
		return fmt.Errorf("subscribe to links: %w", err)
	}
	closed := errors.New("subscription channel closed")
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case u, ok := <-addrs:
			if !ok {
				return fmt.Errorf("addresses: %w", closed)
			}
			o.judge(event{kind: evAddrChanged, index: u.index, addr: u.ip}) // never a trigger by itself
			if u.deleted && u.host {
				if o.judge(event{kind: evAddrDeleted, index: u.index, addr: u.ip}) != expected {
					trigger(fmt.Sprintf("netlink: address %s/%d deleted", u.ip, u.ip.BitLen()))
				}
			}
		case u, ok := <-routes:
			if !ok {
				return fmt.Errorf("routes: %w", closed)
			}
			if reason := o.routeReason(u); reason != "" {
				trigger(reason)
			}
		case nb, ok := <-neighs:
			if !ok {
				return fmt.Errorf("neighbours: %w", closed)
			}
			if nb.proto == o.RouteProtocol &&
				o.judge(event{kind: evNeighDeleted, index: nb.index, addr: nb.addr, mac: nb.mac, proxy: nb.proxy}) != expected {
				trigger("netlink: neighbour " + nb.addr.String() + " deleted")
			}
		case r, ok := <-rules:
			if !ok {
				return fmt.Errorf("rules: %w", closed)
			}
			if r.priority == o.RulePriority && r.dst.IsValid() &&
				o.judge(event{kind: evRuleDeleted, dst: r.dst, table: r.table}) != expected {
				trigger(fmt.Sprintf("netlink: rule to %s lookup %d deleted", r.dst, r.table))
			}
		case u, ok := <-links:
			if !ok {
				return fmt.Errorf("links: %w", closed)
			}
			// Change is ~0 for a new device; IFF_UP when it went up or down. The mirrors are
			// dropped only when the device is one of the appliers' (the NIC, the VRF, a
			// provider bridge or its VLAN device): on a compute node every VM that boots or
			// goes brings a tap device, which must not cost a read-back of everything.
			if u.Header.Type == unix.RTM_DELLINK || u.Change == 0xffffffff || u.Change&unix.IFF_UP != 0 {
				a := u.Attrs()
				o.judge(event{kind: evLinkChanged, index: a.Index, name: a.Name, parent: a.ParentIndex})
				trigger("netlink: device " + a.Name + " changed")
			}
		}
	}
}

// deleted makes parse a subscription's parser that takes the messages of type del only: the
// netlink library's neighbour subscription drops the protocol, and it has no rule
// subscription.
func deleted[T any](del uint16, parse func([]byte) (T, error)) func(uint16, []byte) (T, bool) {
	return func(typ uint16, m []byte) (T, bool) {
		if typ != del {
			var zero T
			return zero, false
		}
		v, err := parse(m)
		return v, err == nil
	}
}

func parseNeighOnly(m []byte) (rawNeigh, error) {
	nb, _, err := parseNeigh(m)
	return nb, err
}

// parseRuleNote decodes a rule notification, as a dump's reply is decoded (parseRule).
func parseRuleNote(m []byte) (leanRule, error) {
	var r leanRule
	ok, err := parseRule(m, &r)
	if err == nil && !ok {
		err = fmt.Errorf("rule message of family %d", m[0])
	}
	return r, err
}

func (o WatchOptions) routeReason(u routeNote) string {
	switch {
	case u.deleted && u.proto == o.RouteProtocol:
		if o.judge(u.event()) == expected {
			return ""
		}
		return fmt.Sprintf("netlink: route %s deleted from table %d", u.dst, u.table)
	case !u.deleted && u.table == unix.RT_TABLE_LOCAL && u.rtType == unix.RTN_LOCAL && u.dst.IsSingleIP():
		if o.judge(event{kind: evLocalAdded, index: int(u.index), addr: u.dst.Addr()}) == expected {
			return ""
		}
		return "netlink: local-table entry for " + u.dst.String() + " inserted"
	}
	return ""
}
