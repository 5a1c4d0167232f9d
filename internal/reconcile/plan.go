package reconcile

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// Plan is what one pass asks every applier to make true. Appliers read only their part and
// never change it: the same Plan goes to all of them.
type Plan struct {
	// Desired is what the core computed, with the live-migration handover applied. Nobody
	// modifies it once it is handed over: each pass makes a new one, and an applier may keep
	// it to compare the next pass's with (the kernel wiring does).
	Desired exposure.Desired
	// Arriving are VM prefixes that just moved here: announced with exposure.ArrivingMetric.
	Arriving map[netip.Prefix]bool
	// Node is this node's identity in OVN.
	Node ovnstate.Identity
	// LocalBridges are the node's OVS bridges (the flows' MACs and patch ports; bridges that
	// left the mappings, whose leftovers are cleaned).
	LocalBridges map[string]ovnstate.LocalBridge
	// Full asks for a full read-back of what is installed (start, periodic pass, SIGHUP,
	// a lost event stream) rather than work on what changed.
	Full bool
}

// Report is what one applier did in one pass.
type Report struct {
	// Changes counts the changes made, by kind of change ("address-added", "reload", ...).
	Changes map[string]int
	// Ran is how long the applier spent in external tools (frr-reload.py) in this pass; 0
	// when it ran none.
	Ran time.Duration
}

// Applier makes its part of a Plan true: read what is installed, diff, add first, remove
// after, and report what changed, also when it returns an error. Applying the same Plan
// twice changes nothing the second time.
type Applier interface {
	Name() string
	Apply(ctx context.Context, p Plan) (Report, error)
}

// Source reads what a pass computes from: the node's identity and the OVN state. full is
// the pass's Plan.Full: the source then reads anew what it may otherwise keep from earlier
// passes, as the appliers read everything back.
type Source interface {
	Read(ctx context.Context, full bool) (ovnstate.Identity, ovnstate.State, error)
}

// Add counts n changes of one kind, ignoring zeros so that an idle pass reports nothing.
func (r *Report) Add(change string, n int) {
	if n == 0 {
		return
	}
	if r.Changes == nil {
		r.Changes = map[string]int{}
	}
	r.Changes[change] += n
}

// RetiredBridges are the node's OVS bridges that are neither provider bridges nor OVN's
// integration bridge: where an earlier run may have left flows and neighbours of the agent's
// before the bridge left ovn-bridge-mappings. Sorted.
func (p Plan) RetiredBridges() []string {
	provider := map[string]bool{p.Node.IntegrationBridge: true}
	for _, b := range p.Desired.Bridges {
		provider[b.Name] = true
	}
	var out []string
	for name := range p.LocalBridges {
		if !provider[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
