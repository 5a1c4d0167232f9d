package exposure

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// Reason is a finding's short machine code: metrics and status group findings by it.
type Reason string

// The finding reasons.
const (
	ReasonParse          Reason = "parse"          // a value in an OVN row does not parse
	ReasonTopology       Reason = "topology"       // rows that do not fit together (a gateway with no switch port, ...)
	ReasonDuplicate      Reason = "duplicate"      // a prefix claimed by several rows; advertised once
	ReasonOverlap        Reason = "overlap"        // tenant subnets that overlap; see refuseOverlaps
	ReasonBounds         Reason = "bounds"         // a tenant subnet shorter than the policy's bounds
	ReasonInfrastructure Reason = "infrastructure" // a prefix containing an address the node itself needs
	ReasonNotAllowed     Reason = "not-allowed"    // outside the kind's allowed prefixes
	ReasonSource         Reason = "source"         // the database read lacks what a rule needs (SB-only engine)
)

// Reasons lists every reason, in a fixed order (metrics export each, zero included).
var Reasons = []Reason{ReasonParse, ReasonTopology, ReasonDuplicate, ReasonOverlap, ReasonBounds, ReasonInfrastructure,
	ReasonNotAllowed, ReasonSource}

// Bounds are the shortest tenant subnets the node exposes, per family. A zero field takes
// the default; /0 is never exposed whatever is set.
type Bounds struct {
	MinIPv4, MinIPv6 int
}

// DefaultBounds: nothing shorter than /8 for IPv4 or /32 for IPv6 (a whole RIR allocation is
// never one tenant's subnet).
var DefaultBounds = Bounds{MinIPv4: 8, MinIPv6: 32}

func (b Bounds) effective() Bounds {
	if b.MinIPv4 <= 0 {
		b.MinIPv4 = DefaultBounds.MinIPv4
	}
	if b.MinIPv6 <= 0 {
		b.MinIPv6 = DefaultBounds.MinIPv6
	}
	return Bounds{MinIPv4: min(b.MinIPv4, 32), MinIPv6: min(b.MinIPv6, 128)}
}

func (b Bounds) min(a netip.Addr) int {
	if a.Is4() {
		return b.MinIPv4
	}
	return b.MinIPv6
}

func (b Bounds) key(a netip.Addr) string {
	if a.Is4() {
		return "exposure.tenant_subnet_min_length_ipv4"
	}
	return "exposure.tenant_subnet_min_length_ipv6"
}

// Allowed is where a kind's prefixes may lie: inside one of Prefixes or, with Provider, inside
// a subnet of the provider network the prefix is reached through (the networks of the router
// ports on it, as OVN knows them).
type Allowed struct {
	Prefixes []netip.Prefix
	Provider bool
}

func (a Allowed) String() string {
	var parts []string
	for _, p := range a.Prefixes {
		parts = append(parts, p.String())
	}
	if a.Provider {
		parts = append(parts, "provider")
	}
	return strings.Join(parts, ", ")
}

// infrastructure is what the node's own traffic needs, ready for the guard.
type infrastructure struct {
	addrs     []netip.Addr
	what      []string // for each of addrs, what it is
	connected []netip.Prefix
}

// linkLocal6 is IPv6's link-local network: every device of the node with IPv6 has an address
// in it (a compute node one per VM tap, which the kernel side leaves out of the node's
// facts), so it is always a network the node is connected to.
var linkLocal6 = netip.MustParsePrefix("fe80::/10")

func newInfrastructure(f ovnstate.NodeFacts) infrastructure {
	in := infrastructure{connected: []netip.Prefix{linkLocal6}}
	add := func(a netip.Addr, what string) {
		if a.IsValid() {
			in.addrs = append(in.addrs, a.Unmap())
			in.what = append(in.what, what)
		}
	}
	for _, p := range f.Addresses {
		add(p.Addr(), "an address of this node")
		if n := p.Masked(); p.IsValid() && !n.IsSingleIP() && !slices.Contains(in.connected, n) {
			in.connected = append(in.connected, n)
		}
	}
	for _, a := range f.Peers {
		add(a, "this node's BGP peer")
	}
	for _, a := range f.Endpoints {
		add(a, "an OVN/OVS database this node connects to")
	}
	add(f.RouterID, "this node's BGP router-id")
	return in
}

// conflict says why exposing p would capture traffic the node itself needs: p contains one
// of its addresses, peers, database endpoints or its router-id, or overlaps a network it is
// connected to (where its neighbours, other nodes and services live).
func (in infrastructure) conflict(p netip.Prefix) (string, bool) {
	for i, a := range in.addrs {
		if p.Contains(a) {
			return fmt.Sprintf("%s contains %s, %s", p, a, in.what[i]), true
		}
	}
	for _, n := range in.connected {
		if p.Overlaps(n) {
			return fmt.Sprintf("%s overlaps %s, a network this node is connected to", p, n), true
		}
	}
	return "", false
}

// guard refuses an exposure that would capture the node's own traffic, or that the policy's
// allow-list for its kind excludes, with a finding; it reports whether it refused.
func (c *computer) guard(e Exposure, network *ovnstate.LogicalSwitch) bool {
	if why, bad := c.infra.conflict(e.Prefix); bad {
		c.finding(ReasonInfrastructure, e.Object, []netip.Prefix{e.Prefix}, "%s %s; not exposed", e.Kind, why)
		c.skip(e.Prefix, e.Kind, e.Object, "%s (see findings)", why)
		return true
	}
	allowed, limited := c.policy.Allowed[e.Kind]
	if !limited || c.allows(allowed, e.Prefix, network) {
		return false
	}
	c.finding(ReasonNotAllowed, e.Object, []netip.Prefix{e.Prefix}, "%s %s is outside exposure.allowed_prefixes.%s (%s); not exposed",
		e.Kind, e.Prefix, configKind(e.Kind), allowed)
	c.skip(e.Prefix, e.Kind, e.Object, "outside exposure.allowed_prefixes.%s (see findings)", configKind(e.Kind))
	return true
}

func (c *computer) allows(a Allowed, p netip.Prefix, network *ovnstate.LogicalSwitch) bool {
	within := func(ranges []netip.Prefix) bool {
		return slices.ContainsFunc(ranges, func(r netip.Prefix) bool { return r.Bits() <= p.Bits() && r.Contains(p.Addr()) })
	}
	return within(a.Prefixes) || a.Provider && network != nil && within(c.providerSubnetsOf(network.Name))
}

// providerSubnetsOf returns the subnets of the router ports attached to a provider network.
func (c *computer) providerSubnetsOf(ls string) []netip.Prefix {
	if c.providerSubnets == nil {
		c.providerSubnets = map[string][]netip.Prefix{}
		for _, lr := range c.st.Routers {
			for _, lrp := range lr.Ports {
				sw := c.routerPortSwitch[lrp.Name]
				if sw == nil {
					continue
				}
				for _, n := range lrp.Networks {
					if _, subnet, err := parseNetwork(n); err == nil { // malformed: reported where it is used
						c.providerSubnets[sw.Name] = append(c.providerSubnets[sw.Name], subnet)
					}
				}
			}
		}
	}
	return c.providerSubnets[ls]
}

// configKind is a kind as it is spelled in configuration keys (tenant-subnet → tenant_subnet).
func configKind(k Kind) string { return strings.ReplaceAll(string(k), "-", "_") }
