package reconcile

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// A live migration moves a VM's binding from one node to another; both nodes' agents see
// the same SB change and act independently, so the ToRs could briefly see both nodes, or
// neither. The handover makes it one at a time, with no gap, in BGP's own terms:
//   - the source keeps announcing the VM (MED 0) for departHold after the binding left;
//     traffic it still attracts reaches the VM through OVN's tunnel;
//   - the target announces at once, but with frr.ArrivingMetric (MED 100) for arriveHold,
//     so while the source's path exists the ToRs use only that one (a worse MED is neither
//     best nor multipath), and the target's takes over the moment the source withdraws;
//   - then the target's metric changes in place to its kind's (MED 0): no withdraw.
//
// arriveHold is long against departHold on purpose: the target's path must still carry the
// worse MED when the source's withdrawal reaches the ToRs, which takes the source's agent
// departHold plus its FRR's and the ToR's processing. With 3 s, a loaded machine had the
// target's MED 0 arrive first (the ToR then forwarded on both paths). A longer hold costs
// nothing: once the source's path is gone, the target's is the only one, whatever its MED.
const (
	departHold = time.Second
	arriveHold = 10 * time.Second
)

// handover keeps the state of VM prefixes in motion between passes.
type handover struct {
	now     func() time.Time
	trigger func(reason string) // asks for the pass that ends a hold

	mu           sync.Mutex
	prevBindings map[string]ovnstate.PortBinding // the last pass's bindings (its snapshot's, never mutated)
	// releasedBy holds ports seen unbound right after another chassis held them: between the
	// source's release and the target's claim a pass can see the port bound nowhere, and
	// the arrival must still be recognised.
	releasedBy map[string]string
	prevVM     map[netip.Prefix]exposure.Exposure // VM exposures announced at the last pass
	arriving   map[netip.Prefix]time.Time         // until when an arrived VM keeps the worse MED
	departing  map[netip.Prefix]time.Time         // until when a departed VM is still announced
}

func newHandover(trigger func(string)) *handover {
	return &handover{now: time.Now, trigger: trigger,
		prevVM: map[netip.Prefix]exposure.Exposure{}, arriving: map[netip.Prefix]time.Time{},
		departing: map[netip.Prefix]time.Time{}}
}

// apply returns d with the VMs still departing from this node added back, and the prefixes
// that are arriving. me is this node's chassis; st the snapshot d was computed from.
func (h *handover) apply(d exposure.Desired, st ovnstate.State, me string) (exposure.Desired, map[netip.Prefix]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	current := map[netip.Prefix]exposure.Exposure{}
	for _, e := range d.Exposures {
		if e.Kind == exposure.KindVM {
			current[e.Prefix] = e
		}
	}
	// Arrivals: newly announced here, and bound to another chassis at the last pass. The
	// first pass has no last pass: what a restart finds is adopted, not arriving.
	for p, e := range current {
		if _, was := h.prevVM[p]; was {
			continue
		}
		prev := h.prevBindings[e.Port].Chassis
		if prev == "" {
			prev = h.releasedBy[e.Port]
		}
		if prev != "" && prev != me {
			h.arriving[p] = now.Add(arriveHold)
			h.after(arriveHold)
		}
	}
	// Departures: announced at the last pass, gone now, and the port moving to another
	// chassis (a deleted port is withdrawn at once).
	out := d
	for p, e := range h.prevVM {
		if _, still := current[p]; still {
			delete(h.departing, p)
			continue
		}
		b, ok := st.Bindings[e.Port]
		moving := ok && (b.Chassis != "" && b.Chassis != me || b.RequestedChassis != "" && b.RequestedChassis != me)
		until, held := h.departing[p]
		switch {
		case !moving:
			delete(h.departing, p)
			continue
		case !held:
			until = now.Add(departHold)
			h.departing[p] = until
			h.after(departHold)
		}
		if now.Before(until) {
			e.Reason = "departing with a live migration, announced until the target has taken over: " + e.Reason
			out.Exposures = append(out.Exposures, e)
			current[p] = e
		} else {
			delete(h.departing, p)
		}
	}
	slices.SortFunc(out.Exposures, func(a, b exposure.Exposure) int { return exposure.ComparePrefix(a.Prefix, b.Prefix) })
	// A hold lasts its time even through a pass that did not announce the VM: right after
	// the claim the binding can flap (released, claimed again), and the VM back a moment
	// later is still arriving.
	arriving := map[netip.Prefix]bool{}
	for p, until := range h.arriving {
		if !now.Before(until) {
			delete(h.arriving, p)
			continue
		}
		if _, ok := current[p]; ok {
			arriving[p] = true
		}
	}
	h.trackReleases(st.Bindings)
	h.prevVM, h.prevBindings = current, st.Bindings
	return out, arriving
}

// after asks for a pass once a hold of d is over.
func (h *handover) after(d time.Duration) {
	if h.trigger != nil {
		time.AfterFunc(d+10*time.Millisecond, func() { h.trigger("live-migration hold over") })
	}
}

// trackReleases remembers which chassis held a port that is now bound nowhere, and forgets
// it once the port is bound again or gone.
func (h *handover) trackReleases(now map[string]ovnstate.PortBinding) {
	for port := range h.releasedBy {
		if b, ok := now[port]; !ok || b.Chassis != "" {
			delete(h.releasedBy, port)
		}
	}
	for port, prev := range h.prevBindings {
		if prev.Chassis == "" {
			continue
		}
		if b, ok := now[port]; ok && b.Chassis == "" {
			if h.releasedBy == nil {
				h.releasedBy = map[string]string{}
			}
			h.releasedBy[port] = prev.Chassis
		}
	}
}
