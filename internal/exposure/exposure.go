// Package exposure decides, from a snapshot of OVN, which prefixes this node must advertise
// and how traffic for them reaches OVN. It is a pure function: no I/O, no clock, no globals.
// Every decision carries its reason, and every input it had to reject becomes a Finding
// instead of an error or a panic.
package exposure

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// TenantMethod is how tenant networks are advertised.
type TenantMethod string

// The tenant advertisement methods (upstream advertisement_method_tenant_networks).
const (
	TenantHost   TenantMethod = "host"   // every tenant VM IP as a host prefix
	TenantSubnet TenantMethod = "subnet" // the tenant subnet as one prefix
)

// Policy selects optional exposure behaviour. The zero Policy exposes provider-network VMs,
// floating IPs, gateway ports and load balancers, and no tenant networks.
type Policy struct {
	// TenantNetworks exposes tenant networks behind a router whose gateway is hosted here.
	TenantNetworks bool
	// IPv6GUATenantNetworks exposes only global-unicast IPv6 tenant subnets (works also
	// with TenantNetworks off).
	IPv6GUATenantNetworks bool
	// TenantMethod is host (the default) or subnet.
	TenantMethod TenantMethod
	// AddressScopes, when not empty, limits tenant networks to subnets whose
	// neutron:subnet_pool_addr_scope4/6 is listed.
	AddressScopes []string
	// RequireSNATDisabled skips tenant subnets that the router SNATs.
	RequireSNATDisabled bool
	// Bounds are the shortest tenant subnets exposed; the zero value is DefaultBounds.
	Bounds Bounds
	// Allowed limits a kind's prefixes to listed ranges; a kind absent from the map is
	// limited only by the infrastructure guard and Bounds.
	Allowed map[Kind]Allowed
}

// Finding is an OVN row the core refused, and why.
type Finding struct {
	Object  string // e.g. "Logical_Switch_Port vm1"
	Reason  Reason // a short machine code: metrics count findings by it
	Message string
	// Prefixes are the addresses or subnets the refused row names, so that explain can
	// find the findings about an address without reading the message.
	Prefixes []netip.Prefix
}

func (f Finding) String() string { return f.Object + ": " + f.Message }

// About reports whether the finding names addr or a prefix containing it.
func (f Finding) About(addr netip.Addr) bool {
	for _, p := range f.Prefixes {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// Compute decides what node must advertise given the OVN state.
func Compute(st ovnstate.State, node ovnstate.Identity, policy Policy) (Desired, []Finding) {
	c := newComputer(st, node, policy, nil)
	return c.run()
}

// computer holds the indexes of one pass over a State.
type computer struct {
	st     ovnstate.State
	node   ovnstate.Identity
	policy Policy
	rec    func(Decision) // nil unless explaining
	memo   *Memo          // nil unless a Memo computes: it reuses unchanged ports' results

	exposures []Exposure
	findings  []Finding

	// switchOf maps a logical switch port name to its switch; built on first use (switchOfPort).
	switchOf map[string]*ovnstate.LogicalSwitch
	// routerPortSwitch maps a router port name to the switch its peer (type router) port is on.
	routerPortSwitch map[string]*ovnstate.LogicalSwitch
	// routerPortLSP maps a router port name to its peer switch port.
	routerPortLSP map[string]ovnstate.LogicalSwitchPort
	// provider caches the provider network of each switch that has a localnet port.
	provider map[string]providerNet
	// bindingsRead, when not nil, records the bindings read (binding): a Memo reuses the
	// routers' part while none of them changed.
	bindingsRead map[string]struct{}
	// switchIdx is the index of the switch whose ports providerPorts visits.
	switchIdx int
	// portIPs caches each VM port's parsed addresses.
	portIPs map[string][]netip.Addr
	// infra is what the node itself needs to reach: never exposed.
	infra infrastructure
	// providerSubnets caches the subnets of each provider network, known from the router
	// ports on it (built on first use: only the "provider" allow-list entry needs them).
	providerSubnets map[string][]netip.Prefix
}

// providerNet is a logical switch's physical network, and its bridge on this node.
type providerNet struct {
	physnet string
	bridge  string // "" when this node has no mapping for physnet
	vlan    uint16
}

func (p providerNet) wiring() Wiring { return Wiring{Bridge: p.bridge, VLAN: p.vlan} }

func newComputer(st ovnstate.State, node ovnstate.Identity, policy Policy, rec func(Decision)) *computer {
	c := newBareComputer(st, node, policy, rec)
	c.indexSwitches()
	return c
}

// newBareComputer is a computer without the switches' indexes (indexSwitches): a Memo whose
// switches are the last Compute's gives it those of the last computer.
func newBareComputer(st ovnstate.State, node ovnstate.Identity, policy Policy, rec func(Decision)) *computer {
	if policy.TenantMethod == "" {
		policy.TenantMethod = TenantHost
	}
	policy.Bounds = policy.Bounds.effective()
	return &computer{
		st: st, node: node, policy: policy, rec: rec,
		portIPs: map[string][]netip.Addr{},
		infra:   newInfrastructure(node.Facts),
	}
}

// indexSwitches builds the indexes a pass reads from the switches' ports (router ports'
// switches, provider networks): a visit of every port.
func (c *computer) indexSwitches() {
	st, node := c.st, c.node
	c.routerPortSwitch = map[string]*ovnstate.LogicalSwitch{}
	c.routerPortLSP = map[string]ovnstate.LogicalSwitchPort{}
	c.provider = map[string]providerNet{}
	for i := range st.Switches {
		ls := &st.Switches[i]
		for _, p := range ls.Ports {
			switch p.Type {
			case "router":
				if rp := p.Options["router-port"]; rp != "" {
					c.routerPortSwitch[rp] = ls
					c.routerPortLSP[rp] = p
				}
			case "localnet":
				if n := p.Options["network_name"]; n != "" {
					if _, seen := c.provider[ls.Name]; !seen || c.provider[ls.Name].bridge == "" {
						c.provider[ls.Name] = providerNet{physnet: n, bridge: node.BridgeMappings[n], vlan: uint16(max(0, min(p.Tag, 4095)))}
					}
				}
			}
		}
	}
}

func (c *computer) run() (Desired, []Finding) {
	for _, r := range c.st.Refused {
		c.findings = append(c.findings, Finding{Object: r.Object, Reason: ReasonSource, Message: r.Message, Prefixes: r.Prefixes})
	}
	if c.memo != nil {
		c.exposures = make([]Exposure, 0, c.memo.exposures+c.memo.exposures/8+16)
	}
	refused := len(c.findings)
	c.providerPorts()
	provFindings := len(c.findings)
	if c.memo != nil {
		c.bindingsRead = map[string]struct{}{}
	}
	c.routers()
	routerFindings := len(c.findings)
	var d Desired
	var moved []int32
	if c.memo != nil {
		moved = make([]int32, len(c.exposures))
	}
	d.Exposures = c.dedupe(pointersTo(sortByPrefix(c.exposures, moved)))
	if c.memo != nil {
		c.memo.pointVisited(c.exposures, moved)
		c.memo.keepWhole(c, d.Exposures, c.findings[refused:provFindings], c.findings[provFindings:routerFindings],
			len(c.findings) > routerFindings)
	}
	if len(d.Exposures) == 0 {
		d.Exposures = nil // as Compute always said; a Memo's pass starts with room for them
	}
	d.Bridges = c.bridges()
	return d, c.findings
}

// sortByPrefix sorts exposures by prefix, those of one prefix in the order the rules ran (a
// stable sort), in place. It sorts compact keys and then moves each exposure once: at 10,000
// exposures, sorting the exposures themselves cost more than the rest of a memoised pass.
// moved, when not nil (as long as in), is set to each exposure's new index by its old one.
func sortByPrefix(in []Exposure, moved []int32) []Exposure {
	keys := make([]prefixKey, len(in))
	sorted, zone := true, false
	for i := range in {
		p := in[i].Prefix
		if p.Addr().Zone() != "" {
			zone = true
			break
		}
		keys[i] = newPrefixKey(p, i)
		sorted = sorted && (i == 0 || keys[i-1].compare(keys[i]) < 0)
	}
	switch {
	case zone:
		// Never in an exposure (every parser refuses zones); sort the slow way if one is.
		for i := range keys {
			keys[i].i = int32(i)
		}
		slices.SortStableFunc(keys, func(a, b prefixKey) int { return ComparePrefix(in[a.i].Prefix, in[b.i].Prefix) })
	case sorted:
		for i := range moved {
			moved[i] = int32(i)
		}
		return in
	default:
		slices.SortFunc(keys, prefixKey.compare)
	}
	for j := range moved {
		moved[keys[j].i] = int32(j)
	}
	// keys[i].i is the exposure that goes to i: follow each cycle of the permutation once.
	for i := range keys {
		if keys[i].i < 0 || int(keys[i].i) == i {
			continue
		}
		tmp := in[i]
		j := i
		for {
			k := int(keys[j].i)
			keys[j].i = -1
			if k == i {
				in[j] = tmp
				break
			}
			in[j] = in[k]
			j = k
		}
	}
	return in
}

// pointersTo returns pointers to in's exposures, in order: in is never written afterwards.
func pointersTo(in []Exposure) []*Exposure {
	out := make([]*Exposure, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out
}

// mergeByPrefix merges two lists sorted by prefix into a new one, a's first within a prefix.
// b is the short one in a Memo's pass (routers, floating IPs: tens; a is the VMs: thousands),
// so a is copied in runs, each found by a binary search.
func mergeByPrefix(a, b []*Exposure) []*Exposure {
	out := make([]*Exposure, 0, len(a)+len(b))
	for _, e := range b {
		// a's exposures up to e's prefix, included: a's go first within a prefix.
		n, _ := slices.BinarySearchFunc(a, e.Prefix, func(x *Exposure, p netip.Prefix) int {
			if ComparePrefix(x.Prefix, p) <= 0 {
				return -1
			}
			return 1
		})
		out = append(append(out, a[:n]...), e)
		a = a[n:]
	}
	return append(out, a...)
}

// prefixKey orders prefixes as ComparePrefix does (IPv4 before IPv6, then address, then
// length), then by position.
type prefixKey struct {
	hi, lo uint64
	fam    uint16 // 4 or 6
	bits   uint16
	i      int32
}

func newPrefixKey(p netip.Prefix, i int) prefixKey {
	k := prefixKey{fam: 6, bits: uint16(p.Bits()), i: int32(i)}
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		k.fam, k.lo = 4, uint64(b[0])<<24|uint64(b[1])<<16|uint64(b[2])<<8|uint64(b[3])
		return k
	}
	b := a.As16()
	for j := 0; j < 8; j++ {
		k.hi = k.hi<<8 | uint64(b[j])
		k.lo = k.lo<<8 | uint64(b[8+j])
	}
	return k
}

func (a prefixKey) compare(b prefixKey) int {
	switch {
	case a.fam != b.fam:
		return int(a.fam) - int(b.fam)
	case a.hi != b.hi:
		return cmp.Compare(a.hi, b.hi)
	case a.lo != b.lo:
		return cmp.Compare(a.lo, b.lo)
	case a.bits != b.bits:
		return int(a.bits) - int(b.bits)
	}
	return int(a.i) - int(b.i)
}

// binding returns a port's binding, recording the read when asked to (bindingsRead).
func (c *computer) binding(port string) (ovnstate.PortBinding, bool) {
	if c.bindingsRead != nil {
		c.bindingsRead[port] = struct{}{}
	}
	b, ok := c.st.Bindings.Get(port)
	return b, ok
}

// switchOfPort returns the switch of a logical switch port (the last switch, by name, that
// has a port of that name).
func (c *computer) switchOfPort(name string) *ovnstate.LogicalSwitch {
	if c.switchOf == nil {
		c.switchOf = map[string]*ovnstate.LogicalSwitch{}
		for i := range c.st.Switches {
			for _, p := range c.st.Switches[i].Ports {
				c.switchOf[p.Name] = &c.st.Switches[i]
			}
		}
	}
	return c.switchOf[name]
}

// expose records an exposure, unless the guards refuse it (guard.go). network is the
// provider network the exposure is reached through, for the "provider" allow-list entry;
// nil for tenant kinds.
func (c *computer) expose(e Exposure, network *ovnstate.LogicalSwitch) {
	if c.guard(e, network) {
		return
	}
	c.exposures = append(c.exposures, e)
	if c.rec != nil {
		c.rec(Decision{Prefix: e.Prefix, Kind: e.Kind, Object: e.Object, Exposed: true, Reason: e.Reason})
	}
}

// skip records why a candidate prefix is not exposed here; it only costs when explaining.
func (c *computer) skip(p netip.Prefix, kind Kind, object, format string, args ...any) {
	if c.rec != nil {
		c.rec(Decision{Prefix: p, Kind: kind, Object: object, Reason: fmt.Sprintf(format, args...)})
	}
}

func (c *computer) finding(reason Reason, object string, prefixes []netip.Prefix, format string, args ...any) {
	c.findings = append(c.findings, Finding{Object: object, Reason: reason, Message: fmt.Sprintf(format, args...), Prefixes: prefixes})
}

// dedupe keeps the first claim of a prefix (sorted by prefix; within a prefix, in the
// order the rules ran) and reports any other object claiming it: advertising it once is
// right, hiding the conflict is not.
func (c *computer) dedupe(in []*Exposure) []*Exposure {
	// Up to the first prefix claimed twice, in is already its own result.
	first := len(in)
	for i := 1; i < len(in); i++ {
		if in[i].Prefix == in[i-1].Prefix {
			first = i
			break
		}
	}
	out := in[:first]
	for _, e := range in[first:] {
		if n := len(out); n > 0 && out[n-1].Prefix == e.Prefix {
			if out[n-1].Object != e.Object {
				c.finding(ReasonDuplicate, e.Object, []netip.Prefix{e.Prefix}, "prefix %s is also claimed by %s; advertised once", e.Prefix, out[n-1].Object)
			}
			continue
		}
		out = append(out, e)
	}
	return out
}

// bridges lists the node's provider bridges, one entry per bridge, with the VLANs of the
// provider networks on them.
func (c *computer) bridges() []Bridge {
	byName := map[string]*Bridge{}
	for physnet, br := range c.node.BridgeMappings {
		b := byName[br]
		if b == nil {
			b = &Bridge{Name: br}
			byName[br] = b
		}
		if b.Physnet == "" || physnet < b.Physnet {
			b.Physnet = physnet // several physnets on one bridge: the first by name
		}
	}
	for _, p := range c.provider {
		if b := byName[p.bridge]; b != nil && p.vlan != 0 && !slices.Contains(b.VLANs, p.vlan) {
			b.VLANs = append(b.VLANs, p.vlan)
		}
	}
	out := make([]Bridge, 0, len(byName))
	for _, b := range byName {
		slices.Sort(b.VLANs)
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
