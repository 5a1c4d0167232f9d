package kernel

import (
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"

	"cmp"
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

// NICRoute is a prefix routed through the NIC, with the route metric that tells FRR its
// exposure kind (frr.KindMetric); 0 means none.
type NICRoute struct {
	Prefix netip.Prefix
	Metric uint32
}

// RouteResult reports one SyncRoutes pass. All slices are sorted.
type RouteResult struct {
	Added   []netip.Prefix
	Removed []netip.Prefix
	// Remetered lists prefixes whose route got another metric in this pass: the route with
	// the new metric is added before the old one is deleted (the metric is part of a
	// route's identity in the kernel, so it cannot be changed in place).
	Remetered []netip.Prefix
	Installed []NICRoute // the agent's routes on the NIC after the pass, also on error
}

// Changed reports whether the pass modified kernel state.
func (r RouteResult) Changed() bool { return len(r.Added)+len(r.Removed)+len(r.Remetered) > 0 }

// SyncRoutes makes the agent's routes through the NIC exactly want: one `PREFIX dev NIC
// metric M` route per prefix, in the VRF's table (or main without a VRF), with the agent's
// route protocol. They carry prefixes that are not addresses, such as tenant subnets with
// the subnet advertisement method, to FRR's `redistribute kernel`, which passes the metric
// on for the per-kind route-map entries. Routes of another protocol, table or device are
// never touched, and a prefix that has such a route in the table is not routed (whatever
// the metrics: it is someone else's).
func (a *Applier) SyncRoutes(ctx context.Context, want []NICRoute) (RouteResult, error) {
	return a.syncRoutes(ctx, want, true)
}

// SyncRoutesChanges is SyncRoutes for a pass driven by an event: it works from the routes the
// applier installed (mirror.go), and reads the table back only when that is not to be
// trusted or a route is to be added (whether another route holds the prefix is read anew).
func (a *Applier) SyncRoutesChanges(ctx context.Context, want []NICRoute) (RouteResult, error) {
	return a.syncRoutes(ctx, want, false)
}

func (a *Applier) syncRoutes(ctx context.Context, want []NICRoute, full bool) (RouteResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ready(); err != nil {
		return RouteResult{}, err
	}
	wantSet := make(map[netip.Prefix]uint32, len(want))
	var bad []error
	for _, r := range want {
		p := r.Prefix
		if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
			bad = append(bad, fmt.Errorf("not routing %s through %s: not a masked prefix", p, a.opts.NIC))
			continue
		}
		if m, dup := wantSet[p]; dup && m != r.Metric {
			bad = append(bad, fmt.Errorf("%s is wanted with metrics %d and %d (two kinds); it gets %d",
				p, m, r.Metric, min(m, r.Metric)))
			wantSet[p] = min(m, r.Metric)
			continue
		}
		wantSet[p] = r.Metric
	}
	link, err := a.nic()
	if err != nil {
		return RouteResult{}, errors.Join(append(bad, err)...)
	}
	index := link.Attrs().Index
	var cur map[NICRoute]bool
	if !full {
		cur = a.routes.take(index)
		for p, m := range wantSet {
			if cur != nil && !cur[nicRoute(p, m)] {
				cur = nil
			}
		}
	}
	readBack := cur == nil
	if readBack {
		gen := a.routes.generation()
		var err error
		if cur, a.foreign, err = a.tableRoutes(link); err != nil {
			return RouteResult{}, errors.Join(append(bad, err)...)
		}
		a.routes.load(cur, index, gen)
	}
	foreign := a.foreign
	routed := make(map[netip.Prefix]bool, len(cur)) // prefixes of ours, whatever the metric
	for r := range cur {
		routed[r.Prefix] = true
	}
	res := RouteResult{}
	errs := bad
	// Make before break: a wanted route with its new metric goes in before the route with
	// the old one goes, so zebra always has a route to redistribute.
	for _, p := range sortedPrefixes(wantSet) {
		m := wantSet[p]
		if cur[nicRoute(p, m)] {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if foreign[p] {
			errs = append(errs, fmt.Errorf("add route %s dev %s table %d: another route to %s is in table %d; it is not ours, so it is left alone and %s is not advertised",
				p, a.opts.NIC, a.table(), p, a.table(), p))
			continue
		}
		// An exclusive add: a replace would take over someone else's route.
		a.routes.write(func() { cur[nicRoute(p, m)] = true })
		if err := a.h.RouteAdd(a.route(link, p, m)); err != nil {
			a.routes.write(func() { delete(cur, nicRoute(p, m)) })
			errs = append(errs, fmt.Errorf("add route %s dev %s table %d metric %d: %w", p, a.opts.NIC, a.table(), m, err))
			continue
		}
		if routed[p] {
			res.Remetered = append(res.Remetered, p)
			a.log.Info("changed route metric", "prefix", p, "table", a.table(), "metric", m)
		} else {
			res.Added = append(res.Added, p)
			a.log.Info("added route", "prefix", p, "table", a.table(), "metric", m)
		}
	}
	for _, r := range sortedRoutes(cur) {
		if m, ok := wantSet[r.Prefix]; ok && (m == r.Metric || !cur[nicRoute(r.Prefix, m)]) {
			continue // wanted, or the old metric's route stays until the new one is in
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		a.routes.write(func() { delete(cur, r) })
		if err := a.h.RouteDel(a.route(link, r.Prefix, r.Metric)); err != nil && !errors.Is(err, unix.ESRCH) {
			a.routes.write(func() { cur[r] = true })
			errs = append(errs, fmt.Errorf("remove stale route %s dev %s metric %d: %w", r.Prefix, a.opts.NIC, r.Metric, err))
			continue
		}
		if _, ok := wantSet[r.Prefix]; ok {
			continue // the second half of a metric change, reported as such above
		}
		res.Removed = append(res.Removed, r.Prefix)
		a.log.Info("removed route", "prefix", r.Prefix, "table", a.table())
	}
	if res.Changed() || readBack || a.lastRoutes == nil {
		a.lastRoutes = sortedRoutes(cur)
	}
	res.Installed = a.lastRoutes
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

func (a *Applier) route(link netlink.Link, p netip.Prefix, metric uint32) *netlink.Route {
	return &netlink.Route{
		Dst:       &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		LinkIndex: link.Attrs().Index,
		Table:     a.table(),
		Protocol:  a.protocol(),
		Scope:     netlink.SCOPE_LINK,
		Priority:  int(metric),
	}
}

func nicRoute(p netip.Prefix, metric uint32) NICRoute { return NICRoute{Prefix: p, Metric: metric} }

// tableRoutes lists the agent's routes on the NIC (its table, its protocol) and the
// prefixes that other routes in that table go to, which the agent must not take over.
func (a *Applier) tableRoutes(link netlink.Link) (map[NICRoute]bool, map[netip.Prefix]bool, error) {
	var own map[NICRoute]bool
	var foreign map[netip.Prefix]bool
	_, err := retryDump("list routes in table "+fmt.Sprint(a.table()), func() (struct{}, error) {
		own, foreign = make(map[NICRoute]bool), make(map[netip.Prefix]bool)
		return struct{}{}, a.dump.routes(routeFilter{table: uint32(a.table())}, func(r *leanRoute) error {
			if r.typ != unix.RTN_UNICAST {
				return nil
			}
			if r.oif == link.Attrs().Index && netlink.RouteProtocol(r.protocol) == a.protocol() {
				own[nicRoute(r.dst, r.priority)] = true
				return nil
			}
			foreign[r.dst] = true
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return own, foreign, nil
}

func sortedPrefixes[V any](set map[netip.Prefix]V) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.SortFunc(out, exposure.ComparePrefix)
	return out
}

func sortedRoutes(set map[NICRoute]bool) []NICRoute {
	out := make([]NICRoute, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b NICRoute) int {
		if c := exposure.ComparePrefix(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		return cmp.Compare(a.Metric, b.Metric)
	})
	return out
}
