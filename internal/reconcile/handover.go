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
	prevBindings ovnstate.Bindings // the last pass's bindings (its snapshot's, never modified)
	// releasedBy holds ports seen unbound right after another chassis held them: between the
	// source's release and the target's claim a pass can see the port bound nowhere, and
	// the arrival must still be recognised.
	releasedBy map[string]string
	prev       []*exposure.Exposure       // what the last pass announced, in prefix order (its VMs are what counts)
	arriving   map[netip.Prefix]time.Time // until when an arrived VM keeps the worse MED
	departing  map[netip.Prefix]time.Time // until when a departed VM is still announced
}

func newHandover(trigger func(string)) *handover {
	return &handover{now: time.Now, trigger: trigger,
		arriving:  map[netip.Prefix]time.Time{},
		departing: map[netip.Prefix]time.Time{}}
}

// apply returns d with the VMs still departing from this node added back, and the prefixes
// that are arriving. me is this node's chassis; st the snapshot d was computed from.
func (h *handover) apply(d exposure.Desired, st ovnstate.State, me string) (exposure.Desired, map[netip.Prefix]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	// The last pass's VM exposures and this one's, both in prefix order, walked side by
	// side: a pass costs a comparison per VM, not a map of them (10,000 on a busy node).
	var departed []*exposure.Exposure
	prev := h.prev
	for _, e := range d.Exposures {
		if e.Kind != exposure.KindVM {
			continue
		}
		was := false
		// prev[0] == e: the same exposure, which a Memo shares between passes.
		for ; len(prev) > 0 && (prev[0] == e || exposure.ComparePrefix(prev[0].Prefix, e.Prefix) <= 0); prev = prev[1:] {
			switch {
			case prev[0].Kind != exposure.KindVM:
			case prev[0].Prefix == e.Prefix:
				was = true
				if len(h.departing) > 0 {
					delete(h.departing, e.Prefix)
				}
			default:
				departed = append(departed, prev[0])
			}
		}
		if !was && !h.prevBindings.IsZero() {
			h.arrived(e, me, now)
		}
	}
	for _, e := range prev {
		if e.Kind == exposure.KindVM {
			departed = append(departed, e)
		}
	}
	// Departures: announced at the last pass, gone now, and the port moving to another
	// chassis (a deleted port is withdrawn at once).
	var held []*exposure.Exposure
	for _, e := range departed {
		if e, ok := h.departure(e, st, me, now); ok {
			held = append(held, e)
		}
	}
	out := d
	if len(held) > 0 {
		// A new slice: d's may be shared with whoever computed it.
		out.Exposures = append(slices.Clip(slices.Clone(d.Exposures)), held...)
		slices.SortFunc(out.Exposures, func(a, b *exposure.Exposure) int { return exposure.ComparePrefix(a.Prefix, b.Prefix) })
	}
	// A hold outlives a moment without the prefix: OVN can unbind the port on the target
	// right after the claim (the source's release crossing the target's claim) and bind it
	// again; announced again within the hold, it still carries the worse MED.
	arriving := map[netip.Prefix]bool{}
	for p, until := range h.arriving {
		if !now.Before(until) {
			delete(h.arriving, p)
			continue
		}
		if e, ok := out.Lookup(p); ok && e.Kind == exposure.KindVM {
			arriving[p] = true
		}
	}
	h.trackReleases(st)
	// Kept, not copied: a pass's Desired is never modified once handed over.
	h.prev, h.prevBindings = out.Exposures, st.Bindings
	return out, arriving
}

// arrived starts e's hold when it is newly announced here and was bound to another chassis
// at the last pass. The first pass has no last pass: what a restart finds is adopted, not
// arriving.
func (h *handover) arrived(e *exposure.Exposure, me string, now time.Time) {
	pb, _ := h.prevBindings.Get(e.Port)
	prev := pb.Chassis
	if prev == "" {
		prev = h.releasedBy[e.Port]
	}
	if prev != "" && prev != me {
		h.arriving[e.Prefix] = now.Add(arriveHold)
		h.after(arriveHold)
	}
}

// departure returns e as still announced while the VM it was announced for moves to another
// chassis and its hold lasts.
func (h *handover) departure(e *exposure.Exposure, st ovnstate.State, me string, now time.Time) (*exposure.Exposure, bool) {
	p := e.Prefix
	b, ok := st.Bindings.Get(e.Port)
	moving := ok && (b.Chassis != "" && b.Chassis != me || b.RequestedChassis != "" && b.RequestedChassis != me)
	until, held := h.departing[p]
	switch {
	case !moving:
		delete(h.departing, p)
		return e, false
	case !held:
		until = now.Add(departHold)
		h.departing[p] = until
		h.after(departHold)
	}
	if !now.Before(until) {
		delete(h.departing, p)
		return e, false
	}
	if !held {
		// A copy: the Exposure is the last pass's, shared with its Desired.
		c := *e
		c.Reason = "departing with a live migration, announced until the target has taken over: " + e.Reason
		e = &c
	}
	return e, true
}

// after asks for a pass once a hold of d is over.
func (h *handover) after(d time.Duration) {
	if h.trigger != nil {
		time.AfterFunc(d+10*time.Millisecond, func() { h.trigger("live-migration hold over") })
	}
}

// trackReleases remembers which chassis held a port that is now bound nowhere, and forgets
// it once the port is bound again or gone. When st says which bindings changed since the
// last pass's (BindingsDelta from the map the handover kept), only those are looked at: a
// binding that did not change released nothing.
func (h *handover) trackReleases(st ovnstate.State) {
	now := st.Bindings
	for port := range h.releasedBy {
		if b, ok := now.Get(port); !ok || b.Chassis != "" {
			delete(h.releasedBy, port)
		}
	}
	release := func(port string, prev ovnstate.PortBinding) {
		if prev.Chassis == "" {
			return
		}
		if b, ok := now.Get(port); ok && b.Chassis == "" {
			if h.releasedBy == nil {
				h.releasedBy = map[string]string{}
			}
			h.releasedBy[port] = prev.Chassis
		}
	}
	switch d := st.BindingsDelta; {
	case now.Same(h.prevBindings):
	case d != nil && !h.prevBindings.IsZero() && d.From.Same(h.prevBindings):
		for _, port := range d.Ports {
			prev, _ := h.prevBindings.Get(port)
			release(port, prev)
		}
	default:
		for port, prev := range h.prevBindings.All() {
			release(port, prev)
		}
	}
}
