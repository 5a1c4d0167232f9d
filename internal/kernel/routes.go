package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultRouteProtocol marks the routes the agent installs, so it can tell them from
// everyone else's. FRR's zebra uses 11 and 186..196; 201 is free in iproute2's rt_protos.
const DefaultRouteProtocol = 201

// RouteResult reports one SyncRoutes pass. All slices are sorted.
type RouteResult struct {
	Added     []netip.Prefix
	Removed   []netip.Prefix
	Installed []netip.Prefix // the agent's routes on the NIC after the pass, also on error
}

// Changed reports whether the pass modified kernel state.
func (r RouteResult) Changed() bool { return len(r.Added)+len(r.Removed) > 0 }

// SyncRoutes makes the agent's routes through the NIC exactly want: one `PREFIX dev NIC`
// route per prefix, in the VRF's table (or main without a VRF), with the agent's route
// protocol. They carry prefixes that are not addresses, such as tenant subnets with the
// subnet advertisement method, to FRR's `redistribute kernel`. Routes of another protocol,
// table or device are never touched.
func (a *Applier) SyncRoutes(ctx context.Context, want []netip.Prefix) (RouteResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ready(); err != nil {
		return RouteResult{}, err
	}
	wantSet := make(map[netip.Prefix]bool, len(want))
	var bad []error
	for _, p := range want {
		if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
			bad = append(bad, fmt.Errorf("not routing %s through %s: not a masked prefix", p, a.opts.NIC))
			continue
		}
		wantSet[p] = true
	}
	link, err := a.nic()
	if err != nil {
		return RouteResult{}, errors.Join(append(bad, err)...)
	}
	cur, err := a.ownRoutes(link)
	if err != nil {
		return RouteResult{}, errors.Join(append(bad, err)...)
	}
	res := RouteResult{}
	errs := bad
	for _, p := range sortedPrefixes(cur) {
		if wantSet[p] {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := a.h.RouteDel(a.route(link, p)); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove stale route %s dev %s: %w", p, a.opts.NIC, err))
			continue
		}
		delete(cur, p)
		res.Removed = append(res.Removed, p)
		a.log.Info("removed route", "prefix", p, "table", a.table())
	}
	for _, p := range sortedPrefixes(wantSet) {
		if cur[p] {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		// An exclusive add: a replace would take over someone else's route to the same
		// prefix in this table.
		if err := a.h.RouteAdd(a.route(link, p)); err != nil {
			if errors.Is(err, unix.EEXIST) {
				err = fmt.Errorf("%w: another route to %s is in table %d; it is not ours, so it is left alone and %s is not advertised",
					err, p, a.table(), p)
			}
			errs = append(errs, fmt.Errorf("add route %s dev %s table %d: %w", p, a.opts.NIC, a.table(), err))
			continue
		}
		cur[p] = true
		res.Added = append(res.Added, p)
		a.log.Info("added route", "prefix", p, "table", a.table())
	}
	res.Installed = sortedPrefixes(cur)
	return res, errors.Join(errs...)
}

// table is where the NIC's routes live: the VRF's table, or main.
func (a *Applier) table() int {
	if a.opts.VRF != "" {
		return int(a.opts.VRFTableID)
	}
	return unix.RT_TABLE_MAIN
}

func (a *Applier) protocol() netlink.RouteProtocol {
	if a.opts.RouteProtocol == 0 {
		return DefaultRouteProtocol
	}
	return netlink.RouteProtocol(a.opts.RouteProtocol)
}

func (a *Applier) route(link netlink.Link, p netip.Prefix) *netlink.Route {
	return &netlink.Route{
		Dst:       &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		LinkIndex: link.Attrs().Index,
		Table:     a.table(),
		Protocol:  a.protocol(),
		Scope:     netlink.SCOPE_LINK,
	}
}

// ownRoutes lists the agent's routes on the NIC: its table, its protocol.
func (a *Applier) ownRoutes(link netlink.Link) (map[netip.Prefix]bool, error) {
	filter := &netlink.Route{Table: a.table(), LinkIndex: link.Attrs().Index, Protocol: a.protocol()}
	routes, err := retryDump("list routes on "+a.opts.NIC, func() ([]netlink.Route, error) {
		return a.h.RouteListFiltered(netlink.FAMILY_ALL, filter,
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF|netlink.RT_FILTER_PROTOCOL)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Prefix]bool, len(routes))
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		out[netip.PrefixFrom(ip.Unmap(), ones)] = true
	}
	return out, nil
}

func sortedPrefixes(set map[netip.Prefix]bool) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out
}
