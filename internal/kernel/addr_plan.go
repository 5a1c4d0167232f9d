package kernel

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// addrPlan is the last plan whose addresses Apply made true without an error: its
// exposures (sorted by prefix, never modified: a Plan's Desired is handed over for good),
// the prefixes arriving with a live migration, and whether IPv6 was left out. While the
// mirror holds (no drift seen since), the NIC is exactly that plan's addresses, so the next
// event's pass works on the exposures that differ from it: at 10,000 exposures, building the
// whole wanted set and diffing it against the mirror cost more than the rest of the pass.
type addrPlan struct {
	ok        bool
	exposures []*exposure.Exposure
	arriving  map[netip.Prefix]bool
	noIPv6    bool
}

// remember keeps the plan Apply just applied, as the base of the next event's pass when
// clean (no error); otherwise the next pass diffs its whole plan.
func (a *Applier) remember(exps []*exposure.Exposure, arriving map[netip.Prefix]bool, noIPv6, clean bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.planned = addrPlan{ok: clean, exposures: exps, arriving: arriving, noIPv6: noIPv6}
	if !clean {
		a.planned = addrPlan{}
	}
}

// syncPlanChanges is SyncChanges for a pass whose plan differs from the last one Apply made
// true by a few exposures: it changes the addresses of those only, found by walking both
// plans' exposures side by side (a comparison per exposure, no set built). ok is false when
// it cannot say (no such plan, the mirror dropped, IPv6 turned off or on, a plan out of
// order, an address the NIC cannot hold): the caller then diffs the whole plan. The Result
// has no Installed: Apply does not report it.
func (a *Applier) syncPlanChanges(ctx context.Context, exps []*exposure.Exposure, arriving map[netip.Prefix]bool, noIPv6 bool) (res Result, ok bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	last := a.planned
	a.planned = addrPlan{} // whatever happens now, only remember makes it a base again
	if a.ready() != nil || !last.ok || last.noIPv6 != noIPv6 {
		return Result{}, false, nil
	}
	stale, change, ok := planDelta(last.exposures, exps, last.arriving, arriving, noIPv6)
	if !ok {
		return Result{}, false, nil
	}
	link, err := a.nic()
	if err != nil {
		return Result{}, false, nil
	}
	cur := a.addrs.take(link.Attrs().Index)
	if cur == nil {
		return Result{}, false, nil
	}
	// What the mirror already says needs no change (a prefix that moved from one kind to
	// another of the same metric); what it does not hold needs no removal.
	stale = slices.DeleteFunc(stale, func(ip netip.Addr) bool { _, in := cur[ip]; return !in })
	change = slices.DeleteFunc(change, func(h HostAddr) bool { m, in := cur[h.Addr]; return in && m == h.Metric })
	a.planPasses++
	errs, ctxErr := a.changeAddrs(ctx, link, cur, stale, change, &res)
	if a.opts.VRF == "" && ctxErr == nil {
		errs = append(errs, a.unlocaliseAdded6(ctx, link, &res))
	}
	if res.Changed() {
		a.lastInstalled = nil // sorted anew when a Sync reports Installed
	}
	return res, true, errors.Join(append(errs, ctxErr)...)
}

// planDelta walks the exposures of two plans, both sorted by prefix with each prefix once,
// and returns the NIC addresses of the old one that the new one lacks (stale) and those the
// new one wants with another metric or anew (change), both sorted. ok is false when either
// is not strictly in prefix order, or an address is one the NIC cannot hold (SyncChanges
// then says why).
func planDelta(old, cur []*exposure.Exposure, oldArr, curArr map[netip.Prefix]bool, noIPv6 bool) (stale []netip.Addr, change []HostAddr, ok bool) {
	if len(old) == len(cur) && len(old) > 0 && &old[0] == &cur[0] && len(oldArr) == 0 && len(curArr) == 0 {
		return nil, nil, true // the same plan again
	}
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		if j > 0 && j < len(cur) && exposure.ComparePrefix(cur[j-1].Prefix, cur[j].Prefix) >= 0 ||
			i > 0 && i < len(old) && exposure.ComparePrefix(old[i-1].Prefix, old[i].Prefix) >= 0 {
			return nil, nil, false
		}
		c := walkOrder(old, cur, i, j)
		switch {
		case c < 0:
			if onNIC(old[i], noIPv6) {
				stale = append(stale, old[i].Prefix.Addr())
			}
			i++
		case c > 0:
			if e := cur[j]; onNIC(e, noIPv6) {
				if !nicHostAddr(e.Prefix.Addr()) {
					return nil, nil, false
				}
				change = append(change, HostAddr{Addr: e.Prefix.Addr(), Metric: addrMetric(e, curArr)})
			}
			j++
		default:
			// The same exposure (a Memo shares those of the ports that did not change) has
			// the same metric unless an arrival changes it.
			if e := cur[j]; (e != old[i] || len(oldArr)+len(curArr) > 0) && onNIC(e, noIPv6) {
				if m := addrMetric(e, curArr); m != addrMetric(old[i], oldArr) {
					change = append(change, HostAddr{Addr: e.Prefix.Addr(), Metric: m})
				}
			}
			i++
			j++
		}
	}
	return stale, change, true
}

// nicHostAddr says whether ip goes on the NIC as it is: what normalise accepts unchanged.
func nicHostAddr(ip netip.Addr) bool {
	return ip.IsValid() && ip == ip.Unmap().WithZone("") && nicHostable(ip)
}

// walkOrder is the step of a merge walk over two lists of exposures sorted by prefix, at
// old[i] and cur[j]: -1 when old's comes first (or cur is done), 1 when cur's does (or old is
// done), 0 for the same prefix.
func walkOrder(old, cur []*exposure.Exposure, i, j int) int {
	switch {
	case i == len(old):
		return 1
	case j == len(cur):
		return -1
	case old[i] == cur[j]:
		return 0 // the same exposure, shared between the two plans
	default:
		return exposure.ComparePrefix(old[i].Prefix, cur[j].Prefix)
	}
}
