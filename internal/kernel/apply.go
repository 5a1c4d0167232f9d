package kernel

import (
	"context"
	"errors"
	"net/netip"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// Name makes the Applier the pass's address and route applier.
func (a *Applier) Name() string { return "kernel" }

// Apply puts the plan's host prefixes on the NIC and its subnet routes in the NIC's table
// (a full plan reads the NIC back first; otherwise only the difference to what it installed
// is applied),
// each with its exposure kind's metric, which FRR's redistribute route-map matches to set the
// kind's communities (internal/frr/kinds.go). The metric is set whether or not kind
// communities are configured, so configuring them later changes frr.conf only. On a host
// with IPv6 disabled, IPv6 exposures are left out.
func (a *Applier) Apply(ctx context.Context, p reconcile.Plan) (reconcile.Report, error) {
	noIPv6 := a.checkIPv6()
	d := p.Desired
	var (
		res Result
		err error
	)
	switch {
	case p.Full:
		res, err = a.Sync(ctx, hostAddrs(d, p.Arriving, noIPv6))
	default:
		// An event's pass: the exposures that differ from the last plan's, when the mirror
		// still holds what that plan made true; else the whole plan against the mirror.
		var ok bool
		if res, ok, err = a.syncPlanChanges(ctx, d.Exposures, p.Arriving, noIPv6); !ok {
			res, err = a.SyncChanges(ctx, hostAddrs(d, p.Arriving, noIPv6))
		}
	}
	a.remember(d.Exposures, p.Arriving, noIPv6, err == nil)
	var r reconcile.Report
	r.Add("address-added", len(res.Added))
	r.Add("address-removed", len(res.Removed))
	r.Add("address-remetered", len(res.Remetered))
	r.Add("local-route-deleted", len(res.LocalRoutesDeleted))
	syncRoutes := a.SyncRoutesChanges
	if p.Full {
		syncRoutes = a.SyncRoutes
	}
	rres, rerr := syncRoutes(ctx, subnetRoutes(d, noIPv6))
	r.Add("route-added", len(rres.Added))
	r.Add("route-removed", len(rres.Removed))
	r.Add("route-remetered", len(rres.Remetered))
	return r, errors.Join(err, rerr)
}

// checkIPv6 reads whether IPv6 is disabled on the host and says so when that changes.
func (a *Applier) checkIPv6() bool {
	disabled := ipv6Disabled(func(path string) (string, error) { return readSysctl(a.ns, path) })
	a.mu.Lock()
	defer a.mu.Unlock()
	if disabled != a.noIPv6 {
		if disabled {
			a.log.Warn("IPv6 is disabled on this host: IPv6 exposures are not put on the NIC")
		} else {
			a.log.Info("IPv6 is enabled on this host again: IPv6 exposures are put on the NIC")
		}
		a.noIPv6 = disabled
	}
	return disabled
}

// hostAddrs are the desired host addresses with their kinds' metrics; arriving ones (a live
// migration's target, see reconcile's handover) carry exposure.ArrivingMetric instead.
// With noIPv6 (IPv6 disabled on the host), IPv6 exposures are left out.
func hostAddrs(d exposure.Desired, arriving map[netip.Prefix]bool, noIPv6 bool) []HostAddr {
	out := make([]HostAddr, 0, len(d.Exposures))
	for _, e := range d.Exposures {
		if onNIC(e, noIPv6) {
			out = append(out, HostAddr{Addr: e.Prefix.Addr(), Metric: addrMetric(e, arriving)})
		}
	}
	return out
}

// onNIC says whether e is an address on the NIC (a host prefix, and not IPv6 on a host
// without it).
func onNIC(e *exposure.Exposure, noIPv6 bool) bool {
	return e.Prefix.IsSingleIP() && !(noIPv6 && e.Prefix.Addr().Is6())
}

// addrMetric is the metric of e's address: its kind's, or exposure.ArrivingMetric while it
// arrives with a live migration.
func addrMetric(e *exposure.Exposure, arriving map[netip.Prefix]bool) uint32 {
	if len(arriving) > 0 && arriving[e.Prefix] {
		return exposure.ArrivingMetric
	}
	return e.Kind.Metric()
}

// subnetRoutes are the desired subnet routes with their kinds' metrics (without IPv6 ones
// on a host without IPv6).
func subnetRoutes(d exposure.Desired, noIPv6 bool) []NICRoute {
	var out []NICRoute
	for _, e := range d.Subnets() {
		if !(noIPv6 && e.Prefix.Addr().Is6()) {
			out = append(out, NICRoute{Prefix: e.Prefix, Metric: e.Kind.Metric()})
		}
	}
	return out
}

// WiringName is the wiring applier's name in metrics and logs.
const WiringName = "kernel-wiring"

// Name makes the Wirer the pass's wiring applier.
func (w *Wirer) Name() string { return WiringName }

// Apply wires the plan's exposures through their provider bridges, and cleans what an
// earlier run left on bridges that are no provider bridge any more. A full plan reads the
// agent's rules, routes and neighbours back first; otherwise only the difference to what
// the Wirer installed is applied.
func (w *Wirer) Apply(ctx context.Context, p reconcile.Plan) (reconcile.Report, error) {
	res, err := w.syncWiring(ctx, p.Desired, p.Full, p.RetiredBridges())
	var r reconcile.Report
	r.Add("added", len(res.Added))
	r.Add("removed", len(res.Removed))
	return r, err
}
