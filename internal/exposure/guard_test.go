package exposure

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

const me = "compute-0"

// infraNode is compute-0 with the facts of a typical lab node: an uplink to its ToR, a
// management network where the OVN databases are, loopback.
var infraNode = ovnstate.Identity{Chassis: "compute-0", BridgeMappings: map[string]string{"physnet1": "br-ex"},
	Facts: ovnstate.NodeFacts{
		Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128"),
			netip.MustParsePrefix("172.30.0.10/24"), netip.MustParsePrefix("172.30.1.10/24")},
		Peers:     []netip.Addr{netip.MustParseAddr("172.30.1.254")},
		Endpoints: []netip.Addr{netip.MustParseAddr("172.30.0.1")},
		RouterID:  netip.MustParseAddr("192.0.2.10"),
	}}

// findingsBy returns "reason object: message" for each finding, sorted.
func findingsBy(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Reason)+" "+f.String())
	}
	slices.Sort(out)
	return out
}

func tenantNetworks(c *cloud, networks ...string) *cloud {
	c.router("router1").Ports[1].Networks = networks
	return c
}

func TestGuardRefusesWhatTheNodeNeeds(t *testing.T) {
	tests := []struct {
		name     string
		cloud    *cloud
		policy   Policy
		want     []string
		findings []string // "reason object: message" prefixes, sorted
	}{
		{
			name: "floating IPs naming the ToR, the SB database, the router-id, a neighbour on the uplink",
			cloud: newCloud().gatewayOn(me).vm("private", "vmA", me, "10.0.0.5").
				fip("172.30.1.254", "vmA", "fa:16:3e:00:00:10").
				fip("172.30.0.1", "vmA", "fa:16:3e:00:00:10").
				fip("192.0.2.10", "vmA", "fa:16:3e:00:00:10").
				fip("172.30.1.7", "vmA", "fa:16:3e:00:00:10").
				fip("172.24.4.100", "vmA", "fa:16:3e:00:00:10"),
			want: []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "172.24.4.100/32 fip br-ex", "2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01"},
			findings: []string{
				"infrastructure NAT 172.30.0.1 (router router1): fip 172.30.0.1/32 contains 172.30.0.1, an OVN/OVS database this node connects to; not exposed",
				"infrastructure NAT 172.30.1.254 (router router1): fip 172.30.1.254/32 contains 172.30.1.254, this node's BGP peer; not exposed",
				"infrastructure NAT 172.30.1.7 (router router1): fip 172.30.1.7/32 overlaps 172.30.1.0/24, a network this node is connected to; not exposed",
				"infrastructure NAT 192.0.2.10 (router router1): fip 192.0.2.10/32 contains 192.0.2.10, this node's BGP router-id; not exposed",
			},
		},
		{
			name: "a provider VM and a load-balancer VIP floating IP on the node's own address",
			cloud: newCloud().gatewayOn(me).vm("public", "vmP", me, "172.30.0.10", "172.24.4.20").
				lb("lb1", map[string]string{"neutron:vip_fip": "127.0.0.1"}, "172.24.4.50:80"),
			want: []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "172.24.4.20/32 vm br-ex", "172.24.4.50/32 lb-vip br-ex",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01"},
			findings: []string{
				"infrastructure Logical_Switch_Port vmP: vm 172.30.0.10/32 contains 172.30.0.10, an address of this node; not exposed",
				"parse Load_Balancer lb1 (router router1): external_ids:neutron:vip_fip: \"127.0.0.1\" is not a unicast IP address",
			},
		},
		{
			name:   "tenant subnets: /0 and /1 out of bounds, one containing the router-id, one inside the management network",
			cloud:  tenantNetworks(newCloud().gatewayOn(me), "10.0.0.1/0", "10.0.0.1/1", "192.0.2.1/24", "172.30.0.129/25", "192.168.5.1/24", "2001:db8:10::1/0", "2001:db8:10::1/64"),
			policy: Policy{TenantNetworks: true, TenantMethod: TenantSubnet},
			want: []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "192.168.5.0/24 tenant-subnet br-ex via 172.24.4.1",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01", "2001:db8:10::/64 tenant-subnet br-ex via 2001:db8:4::1"},
			findings: []string{
				"bounds Logical_Router_Port lrp-priv (router router1): tenant subnet 0.0.0.0/0 is shorter than /8 (exposure.tenant_subnet_min_length_ipv4); not exposed, nor its VMs",
				"bounds Logical_Router_Port lrp-priv (router router1): tenant subnet 0.0.0.0/1 is shorter than /8 (exposure.tenant_subnet_min_length_ipv4); not exposed, nor its VMs",
				"bounds Logical_Router_Port lrp-priv (router router1): tenant subnet ::/0 is shorter than /32 (exposure.tenant_subnet_min_length_ipv6); not exposed, nor its VMs",
				"infrastructure Logical_Router_Port lrp-priv (router router1): tenant-subnet 172.30.0.128/25 overlaps 172.30.0.0/24, a network this node is connected to; not exposed",
				"infrastructure Logical_Router_Port lrp-priv (router router1): tenant-subnet 192.0.2.0/24 contains 192.0.2.10, this node's BGP router-id; not exposed",
			},
		},
		{
			name: "tenant host method: VMs of an out-of-bounds subnet are not exposed, a VM on the ToR's address neither",
			cloud: func() *cloud {
				c := tenantNetworks(newCloud().gatewayOn(me), "10.0.0.1/4", "172.30.1.1/24")
				c.vm("private", "vmA", me, "10.0.0.5").vm("private", "vmB", me, "172.30.1.254")
				return c
			}(),
			policy: Policy{TenantNetworks: true},
			want:   []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01"},
			findings: []string{
				"bounds Logical_Router_Port lrp-priv (router router1): tenant subnet 0.0.0.0/4 is shorter than /8 (exposure.tenant_subnet_min_length_ipv4); not exposed, nor its VMs",
				"infrastructure Logical_Switch_Port vmB: tenant 172.30.1.254/32 contains 172.30.1.254, this node's BGP peer; not exposed",
			},
		},
		{
			name:   "tighter bounds",
			cloud:  tenantNetworks(newCloud().gatewayOn(me), "10.0.0.1/16", "10.1.0.1/24", "2001:db8:10::1/56", "2001:db8:11::1/64"),
			policy: Policy{TenantNetworks: true, TenantMethod: TenantSubnet, Bounds: Bounds{MinIPv4: 24, MinIPv6: 64}},
			want: []string{"10.1.0.0/24 tenant-subnet br-ex via 172.24.4.1", "172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01", "2001:db8:11::/64 tenant-subnet br-ex via 2001:db8:4::1"},
			findings: []string{
				"bounds Logical_Router_Port lrp-priv (router router1): tenant subnet 10.0.0.0/16 is shorter than /24 (exposure.tenant_subnet_min_length_ipv4); not exposed, nor its VMs",
				"bounds Logical_Router_Port lrp-priv (router router1): tenant subnet 2001:db8:10::/56 is shorter than /64 (exposure.tenant_subnet_min_length_ipv6); not exposed, nor its VMs",
			},
		},
		{
			name: "allow-lists: floating IPs only from the provider subnets, gateways only from a listed range",
			cloud: newCloud().gatewayOn(me).vm("private", "vmA", me, "10.0.0.5").
				fip("8.8.8.8", "vmA", "fa:16:3e:00:00:10").
				fip("172.24.4.100", "vmA", "fa:16:3e:00:00:10"),
			policy: Policy{Allowed: map[Kind]Allowed{
				KindFIP:     {Provider: true},
				KindGateway: {Prefixes: []netip.Prefix{netip.MustParsePrefix("172.24.0.0/16")}},
			}},
			want: []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "172.24.4.100/32 fip br-ex"},
			findings: []string{
				"not-allowed Logical_Router_Port lrp-gw: gateway 2001:db8:4::1/128 is outside exposure.allowed_prefixes.gateway (172.24.0.0/16); not exposed",
				"not-allowed NAT 8.8.8.8 (router router1): fip 8.8.8.8/32 is outside exposure.allowed_prefixes.fip (provider); not exposed",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, findings := Compute(tt.cloud.st, infraNode, tt.policy)
			if diff := cmp.Diff(tt.want, exposed(d)); diff != "" {
				t.Errorf("exposures (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.findings, findingsBy(findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOverlapRefusesTheCoveringSubnetOnly(t *testing.T) {
	c := newCloud().gatewayOn(me)
	// Three more routers, gateways here, with tenant subnets inside router1's 10.0.0.0/8 and
	// one equal to another.
	for i, n := range []string{"10.1.0.1/24", "10.2.0.1/24", "10.2.0.2/24"} {
		name := []string{"r2", "r3", "r4"}[i]
		c.sw("public").Ports = append(c.sw("public").Ports, routerLSP("public-"+name, "gw-"+name))
		c.st.Switches = append(c.st.Switches, ovnstate.LogicalSwitch{Name: "priv-" + name, Ports: []ovnstate.LogicalSwitchPort{routerLSP("priv-"+name, "in-"+name)}})
		c.st.Routers = append(c.st.Routers, ovnstate.LogicalRouter{Name: name, Ports: []ovnstate.LogicalRouterPort{
			{Name: "gw-" + name, MAC: "fa:16:3e:00:01:0" + string(rune('1'+i)), Networks: []string{"172.24.4.1" + string(rune('1'+i)) + "/24"}},
			{Name: "in-" + name, MAC: "fa:16:3e:00:02:01", Networks: []string{n}},
		}})
		c.st.Bindings = c.st.Bindings.With("cr-gw-"+name, ovnstate.PortBinding{LogicalPort: "cr-gw-" + name, Type: "chassisredirect", Chassis: me})
	}
	tenantNetworks(c, "10.0.0.1/8")
	d, findings := Compute(c.st, node, Policy{TenantNetworks: true, TenantMethod: TenantSubnet})
	var subnets []string
	for _, e := range d.Subnets() {
		subnets = append(subnets, e.Prefix.String())
	}
	// The /8 does not withdraw 10.1.0.0/24; the two routers with the same /24 lose it both.
	if diff := cmp.Diff([]string{"10.1.0.0/24"}, subnets); diff != "" {
		t.Errorf("exposed tenant subnets (-want +got):\n%s", diff)
	}
	want := []string{
		"overlap Logical_Router_Port in-r3 (router r3): tenant subnet 10.2.0.0/24 is also on Logical_Router_Port in-r4 (router r4); neither is advertised",
		"overlap Logical_Router_Port in-r4 (router r4): tenant subnet 10.2.0.0/24 is also on Logical_Router_Port in-r3 (router r3); neither is advertised",
		"overlap Logical_Router_Port lrp-priv (router router1): tenant subnet 10.0.0.0/8 contains 3 more specific tenant subnet(s), first 10.1.0.0/24 of Logical_Router_Port in-r2 (router r2); it is not advertised, so that it cannot capture their traffic",
	}
	if diff := cmp.Diff(want, findingsBy(findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// An out-of-bounds subnet takes no part in the overlap check: a tenant with a /1 withdraws
// nobody's subnet.
func TestOutOfBoundsSubnetWithdrawsNoOtherTenant(t *testing.T) {
	c := tenantNetworks(newCloud().gatewayOn(me), "10.0.0.1/24", "10.0.0.1/1")
	d, findings := Compute(c.st, node, Policy{TenantNetworks: true, TenantMethod: TenantSubnet})
	if _, ok := d.Lookup(netip.MustParsePrefix("10.0.0.0/24")); !ok {
		t.Errorf("10.0.0.0/24 is not exposed; findings: %v", findings)
	}
	for _, f := range findings {
		if f.Reason != ReasonBounds || !strings.Contains(f.Message, "0.0.0.0/1") {
			t.Errorf("unexpected finding %s %s", f.Reason, f)
		}
	}
}

func TestEveryFindingHasAKnownReason(t *testing.T) {
	c := tenantNetworks(newCloud().gatewayOn(me), "garbage", "10.0.0.1/1", "10.0.0.1/24", "10.0.0.1/25", "172.30.1.1/24")
	c.vm("public", "vmP", me, "172.30.0.10").fip("x", "vmA", "").lb("lb", map[string]string{"neutron:vip_fip": "bad"}, "bad")
	_, findings := Compute(c.st, infraNode, Policy{TenantNetworks: true, TenantMethod: TenantSubnet})
	seen := map[Reason]bool{}
	for _, f := range findings {
		if !slices.Contains(Reasons, f.Reason) {
			t.Errorf("finding %q has reason %q, not in Reasons", f, f.Reason)
		}
		seen[f.Reason] = true
	}
	for _, r := range []Reason{ReasonParse, ReasonBounds, ReasonOverlap, ReasonInfrastructure} {
		if !seen[r] {
			t.Errorf("no finding with reason %s in %v", r, findingsBy(findings))
		}
	}
}

// TestLinkLocalIsAlwaysInfrastructure: the kernel side leaves the node's IPv6 link-local
// addresses out of its facts (a compute node has one per VM tap, and each would make every
// port's decision stale), so the guard holds fe80::/10 as the node's own network with no
// address of it among the facts. The parsers refuse link-local OVN addresses before the
// guard sees them; this is the guard's own line.
func TestLinkLocalIsAlwaysInfrastructure(t *testing.T) {
	in := newInfrastructure(ovnstate.NodeFacts{})
	for _, p := range []string{"fe80::1/128", "fe80::/64", "fe80::/10", "fe00::/8", "::/0"} {
		if why, bad := in.conflict(netip.MustParsePrefix(p)); !bad || !strings.Contains(why, "fe80::/10") {
			t.Errorf("conflict(%s) = %q, %v; want the link-local network refused", p, why, bad)
		}
	}
	if why, bad := in.conflict(netip.MustParsePrefix("2001:db8::1/128")); bad {
		t.Errorf("conflict(2001:db8::1/128) = %q: a global address refused", why)
	}
}
