package exposure

import (
	"net/netip"
	"slices"
)

// Kind says why a prefix is exposed. Communities per kind (FRR) and metrics use it.
type Kind string

// The exposure kinds, one per OpenStack case the agent handles.
const (
	KindVM           Kind = "vm"              // VM port on a provider network, bound here
	KindFIP          Kind = "fip"             // floating IP (NAT dnat_and_snat)
	KindGateway      Kind = "gateway"         // router gateway port (cr-lrp) hosted here
	KindTenant       Kind = "tenant"          // tenant VM IP behind a gateway hosted here (host method)
	KindTenantSubnet Kind = "tenant-subnet"   // tenant subnet behind a gateway hosted here (subnet method)
	KindLBVIP        Kind = "lb-vip"          // OVN load-balancer VIP on a provider network
	KindLBFIP        Kind = "lb-fip"          // floating IP of a load-balancer VIP
	KindPortForward  Kind = "port-forwarding" // floating IP used by port forwardings
)

// Kinds lists every kind, in a fixed order (metrics, status).
var Kinds = []Kind{KindVM, KindFIP, KindGateway, KindTenant, KindTenantSubnet, KindLBVIP, KindLBFIP, KindPortForward}

// kindMetrics are the fixed route metrics per kind that the kernel side puts on the
// addresses and routes of bgp-nic, and FRR's redistribute route-map matches to tell the kinds
// apart (internal/frr/kinds.go). Never renumber one: a running node's addresses carry them.
var kindMetrics = map[Kind]uint32{
	KindVM:           101,
	KindFIP:          102,
	KindGateway:      103,
	KindTenant:       104,
	KindTenantSubnet: 105,
	KindLBVIP:        106,
	KindLBFIP:        107,
	KindPortForward:  108,
}

// Metric is the route metric of k's addresses on bgp-nic; 0 for an unknown kind.
func (k Kind) Metric() uint32 { return kindMetrics[k] }

// ArrivingMetric marks an address that has just arrived on this node with a live migration:
// FRR gives it a worse MED, so while the source node still announces the VM the ToRs keep
// using the source's path. The kernel side changes it to the kind's once the hold is over.
const ArrivingMetric = 199

// Exposure is one prefix this node advertises: a host prefix (/32, /128), or a tenant subnet
// with the subnet advertisement method.
type Exposure struct {
	Prefix netip.Prefix
	Kind   Kind
	// Wiring is how traffic for Prefix reaches OVN from this node's kernel.
	Wiring Wiring
	// Object names the OVN row the exposure comes from, e.g. "Logical_Switch_Port vm1".
	Object string
	// Port is the logical switch port of a VM's address (kinds vm and tenant), whose
	// binding a live migration moves; "" for other kinds.
	Port string
	// Reason says, for `explain`, which rule exposed it and why it belongs on this node.
	Reason string
}

// Wiring is the kernel/OVS side of an exposure (internal/kernel, internal/ovs).
type Wiring struct {
	// Bridge is the provider bridge (from ovn-bridge-mappings) traffic enters OVN through;
	// "" when the exposure has none on this node.
	Bridge string
	// VLAN is the provider network's segmentation id on Bridge; 0 for a flat network.
	VLAN uint16
	// Via is the next hop inside OVN for prefixes behind a router (tenant networks): the
	// router gateway port's IP on the provider network, of the same family as Prefix.
	Via netip.Addr
	// MAC is set for router gateway ports: a permanent neighbour entry Prefix→MAC on Bridge
	// (and an NDP proxy entry for IPv6) lets the host reach the gateway without ARP.
	MAC string
	// NDPProxy is set for an IPv6 VM on a provider network: the network address (the
	// subnet-router anycast address, RFC 4291) of the VM's subnet, from neutron:cidrs. The
	// host answers neighbour solicitations for it on Bridge, so a guest routing via it
	// reaches the host and leaves through the fabric; IPv6 has no proxy-ARP-for-everything.
	NDPProxy netip.Addr
}

// Bridge is a provider bridge of this node, with what the kernel needs to steer traffic
// into it even before anything on it is exposed.
type Bridge struct {
	Name    string   // OVS bridge, e.g. br-ex
	Physnet string   // physical network name mapped to it
	VLANs   []uint16 // segmentation ids of VLAN provider networks on this bridge, sorted
}

// Desired is everything this node must advertise and wire, deterministic for a given input.
type Desired struct {
	// Exposures sorted by prefix, then kind; a prefix appears once. The Exposures pointed to
	// are shared between Desireds (a Memo's pass reuses those of the ports that did not
	// change, so that a pass copies 10,000 pointers rather than 10,000 exposures) and are
	// never modified: copy one to change it.
	Exposures []*Exposure
	// Bridges are this node's provider bridges, sorted by name.
	Bridges []Bridge
}

// Addrs returns the host addresses to put on the NIC, sorted and without duplicates.
func (d Desired) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(d.Exposures))
	for _, e := range d.Exposures {
		if e.Prefix.IsSingleIP() {
			out = append(out, e.Prefix.Addr())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// Subnets returns the exposures that are whole subnets (tenant subnet method), sorted.
func (d Desired) Subnets() []*Exposure {
	var out []*Exposure
	for _, e := range d.Exposures {
		if !e.Prefix.IsSingleIP() {
			out = append(out, e)
		}
	}
	return out
}

// Lookup returns the exposure of prefix, if any.
func (d Desired) Lookup(p netip.Prefix) (Exposure, bool) {
	i, ok := slices.BinarySearchFunc(d.Exposures, p, byPrefix)
	if !ok {
		return Exposure{}, false
	}
	return *d.Exposures[i], true
}

// ComparePrefix orders prefixes by address, then prefix length: the order of Desired.Exposures.
func ComparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// HostPrefix returns a as a /32 or /128.
func HostPrefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, a.BitLen())
}
