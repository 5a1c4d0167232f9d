package exposure

import (
	"net/netip"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// Decision is one rule's verdict on one candidate prefix for this node.
type Decision struct {
	Prefix  netip.Prefix
	Kind    Kind
	Object  string
	Exposed bool
	Reason  string
}

// Explanation is everything the core decided about an address on this node.
type Explanation struct {
	Addr netip.Addr
	// Exposed is the exposure that advertises Addr (a host prefix or a subnet containing it).
	Exposed *Exposure
	// Decisions are every rule's verdict on a prefix containing Addr, in rule order.
	Decisions []Decision
	// Findings are the refused rows that mention a prefix containing Addr.
	Findings []Finding
}

// Explain runs the same computation as Compute and reports what it decided about addr and
// why, including the rules that considered it and did not expose it here.
func Explain(st ovnstate.State, node ovnstate.Identity, policy Policy, addr netip.Addr) Explanation {
	addr = addr.Unmap()
	ex := Explanation{Addr: addr}
	c := newComputer(st, node, policy, func(d Decision) {
		if d.Prefix.Contains(addr) {
			ex.Decisions = append(ex.Decisions, d)
		}
	})
	d, findings := c.run()
	for i := range d.Exposures {
		if d.Exposures[i].Prefix.Contains(addr) {
			e := *d.Exposures[i]
			if ex.Exposed == nil || e.Prefix.Bits() > ex.Exposed.Prefix.Bits() {
				ex.Exposed = &e
			}
		}
	}
	for _, f := range findings {
		if f.About(addr) {
			ex.Findings = append(ex.Findings, f)
		}
	}
	return ex
}
