package exposure

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// cloud is an OpenStack-like OVN fixture: provider network "public" (physnet1, VLAN-less),
// router1 with its gateway lrp-gw on public and tenant network "private" (lrp-priv) behind it.
type cloud struct{ st ovnstate.State }

func newCloud() *cloud {
	c := &cloud{st: ovnstate.State{Bindings: ovnstate.NewBindings(nil)}}
	c.st.Switches = []ovnstate.LogicalSwitch{
		{Name: "public", Ports: []ovnstate.LogicalSwitchPort{localnet("physnet1"), routerLSP("public-router1", "lrp-gw")}},
		{Name: "private", Ports: []ovnstate.LogicalSwitchPort{routerLSP("private-router1", "lrp-priv")}},
	}
	c.st.Routers = []ovnstate.LogicalRouter{{Name: "router1", Ports: []ovnstate.LogicalRouterPort{
		{Name: "lrp-gw", MAC: "fa:16:3e:00:00:01", Networks: []string{"172.24.4.1/24", "2001:db8:4::1/64"}},
		{Name: "lrp-priv", MAC: "fa:16:3e:00:00:02", Networks: []string{"10.0.0.1/24", "2001:db8:10::1/64", "fd00:10::1/64"}},
	}}}
	return c
}

func routerLSP(name, lrp string) ovnstate.LogicalSwitchPort {
	return ovnstate.LogicalSwitchPort{Name: name, Type: "router", Addresses: []string{"router"}, Options: map[string]string{"router-port": lrp}}
}

func (c *cloud) gatewayOn(chassis string) *cloud {
	c.st.Bindings = c.st.Bindings.With("cr-lrp-gw", ovnstate.PortBinding{LogicalPort: "cr-lrp-gw", Type: "chassisredirect", Chassis: chassis})
	return c
}

func (c *cloud) sw(name string) *ovnstate.LogicalSwitch {
	for i := range c.st.Switches {
		if c.st.Switches[i].Name == name {
			return &c.st.Switches[i]
		}
	}
	panic(name)
}

func (c *cloud) router(name string) *ovnstate.LogicalRouter {
	for i := range c.st.Routers {
		if c.st.Routers[i].Name == name {
			return &c.st.Routers[i]
		}
	}
	panic(name)
}

// vm adds a VM port with addresses to switch ls, bound to chassis ("" = unbound).
func (c *cloud) vm(ls, name, chassis string, addrs ...string) *cloud {
	s := c.sw(ls)
	s.Ports = append(s.Ports, vm(name, "fa:16:3e:aa:00:01 "+strings.Join(addrs, " ")))
	c.st.Bindings = c.st.Bindings.With(name, ovnstate.PortBinding{LogicalPort: name, Chassis: chassis})
	return c
}

func (c *cloud) fip(ip, port, mac string) *cloud {
	r := c.router("router1")
	r.NAT = append(r.NAT, ovnstate.NAT{Type: "dnat_and_snat", ExternalIP: ip, LogicalIP: "10.0.0.5", LogicalPort: port, ExternalMAC: mac})
	return c
}

func (c *cloud) centralized() *cloud {
	c.st.NBGlobalExternalIDs = map[string]string{"neutron:fip-distributed": "False"}
	return c
}

func (c *cloud) lb(name string, ext map[string]string, vips ...string) *cloud {
	r := c.router("router1")
	m := map[string]string{}
	for _, v := range vips {
		m[v] = "10.0.0.5:80"
	}
	r.LoadBalancers = append(r.LoadBalancers, ovnstate.LoadBalancer{Name: name, VIPs: m, ExternalIDs: ext})
	return c
}

// exposed renders the exposures as "prefix kind bridge [via X] [mac M]" lines.
func exposed(d Desired) []string {
	var out []string
	for _, e := range d.Exposures {
		s := fmt.Sprintf("%s %s %s", e.Prefix, e.Kind, e.Wiring.Bridge)
		if e.Wiring.Via.IsValid() {
			s += " via " + e.Wiring.Via.String()
		}
		if e.Wiring.MAC != "" {
			s += " mac " + e.Wiring.MAC
		}
		out = append(out, s)
	}
	return out
}

func TestComputeRouterCases(t *testing.T) {
	const me, other = "compute-0", "compute-1"
	tenantHost := Policy{TenantNetworks: true}
	tenantSubnet := Policy{TenantNetworks: true, TenantMethod: TenantSubnet}
	tests := []struct {
		name     string
		cloud    *cloud
		policy   Policy
		want     []string
		findings []string
	}{
		{
			name:  "gateway port hosted here: its addresses with the MAC for a neighbour entry",
			cloud: newCloud().gatewayOn(me),
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
			},
		},
		{name: "gateway port hosted elsewhere", cloud: newCloud().gatewayOn(other)},
		{name: "gateway port not hosted yet", cloud: newCloud().gatewayOn("")},
		{
			name:  "distributed FIP: on the chassis of the VM port",
			cloud: newCloud().gatewayOn(other).vm("private", "vmA", me, "10.0.0.5").fip("172.24.4.100", "vmA", "fa:16:3e:aa:00:01"),
			want:  []string{"172.24.4.100/32 fip br-ex"},
		},
		{
			name:  "distributed FIP: VM bound elsewhere",
			cloud: newCloud().gatewayOn(me).vm("private", "vmA", other, "10.0.0.5").fip("172.24.4.100", "vmA", "fa:16:3e:aa:00:01"),
			want:  []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01"},
		},
		{
			name:  "distributed FIP: external MAC not set yet",
			cloud: newCloud().gatewayOn(other).vm("private", "vmA", me, "10.0.0.5").fip("172.24.4.100", "vmA", ""),
		},
		{
			name:  "FIP without external_mac: OVN serves it on the gateway chassis (LP#2096663)",
			cloud: newCloud().gatewayOn(me).vm("private", "vmA", other, "10.0.0.5").fip("172.24.4.100", "vmA", ""),
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"172.24.4.100/32 fip br-ex",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
			},
		},
		{
			name:  "FIP without logical_port: OVN serves it on the gateway chassis",
			cloud: newCloud().gatewayOn(me).fip("172.24.4.100", "", ""),
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"172.24.4.100/32 fip br-ex",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
			},
		},
		{
			name:  "FIP without logical_port: gateway elsewhere",
			cloud: newCloud().gatewayOn(other).fip("172.24.4.100", "", ""),
		},
		{
			name:  "distributed FIP: VM unbound",
			cloud: newCloud().gatewayOn(other).vm("private", "vmA", "", "10.0.0.5").fip("172.24.4.100", "vmA", "fa:16:3e:aa:00:01"),
		},
		{
			name:  "centralized FIP: on the gateway chassis, VM bound anywhere",
			cloud: newCloud().gatewayOn(me).centralized().vm("private", "vmA", other, "10.0.0.5").fip("172.24.4.100", "vmA", ""),
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"172.24.4.100/32 fip br-ex",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
			},
		},
		{
			name:  "centralized FIP: not on the VM's chassis",
			cloud: newCloud().gatewayOn(other).centralized().vm("private", "vmA", me, "10.0.0.5").fip("172.24.4.100", "vmA", "fa:16:3e:aa:00:01"),
		},
		{
			name:  "centralized FIP: VM unbound",
			cloud: newCloud().gatewayOn(me).centralized().vm("private", "vmA", "", "10.0.0.5").fip("172.24.4.100", "vmA", ""),
			want:  []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01"},
		},
		{
			name:  "tenant networks are off by default",
			cloud: newCloud().gatewayOn(me).vm("private", "vmA", other, "10.0.0.5"),
			want:  []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01"},
		},
		{
			name:   "tenant networks, host method: each bound VM IP via the gateway",
			cloud:  newCloud().gatewayOn(me).vm("private", "vmA", other, "10.0.0.5", "2001:db8:10::5").vm("private", "vmB", "", "10.0.0.6"),
			policy: tenantHost,
			want: []string{
				"10.0.0.5/32 tenant br-ex via 172.24.4.1",
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:10::5/128 tenant br-ex via 2001:db8:4::1",
			},
		},
		{
			name:   "tenant networks, host method: gateway elsewhere",
			cloud:  newCloud().gatewayOn(other).vm("private", "vmA", me, "10.0.0.5"),
			policy: tenantHost,
		},
		{
			name:   "tenant networks, subnet method",
			cloud:  newCloud().gatewayOn(me).vm("private", "vmA", other, "10.0.0.5"),
			policy: tenantSubnet,
			want: []string{
				"10.0.0.0/24 tenant-subnet br-ex via 172.24.4.1",
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:10::/64 tenant-subnet br-ex via 2001:db8:4::1",
				"fd00:10::/64 tenant-subnet br-ex via 2001:db8:4::1",
			},
		},
		{
			name:   "IPv6 GUA tenant networks only",
			cloud:  newCloud().gatewayOn(me),
			policy: Policy{IPv6GUATenantNetworks: true, TenantMethod: TenantSubnet},
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:10::/64 tenant-subnet br-ex via 2001:db8:4::1",
			},
		},
		{
			name: "address scopes select tenant subnets",
			cloud: func() *cloud {
				c := newCloud().gatewayOn(me)
				c.sw("private").Ports[0].ExternalIDs = map[string]string{
					"neutron:subnet_pool_addr_scope4": "scope-a", "neutron:subnet_pool_addr_scope6": "scope-b"}
				return c
			}(),
			policy: Policy{TenantNetworks: true, TenantMethod: TenantSubnet, AddressScopes: []string{"scope-a"}},
			want: []string{
				"10.0.0.0/24 tenant-subnet br-ex via 172.24.4.1",
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
			},
		},
		{
			name: "require SNAT disabled skips SNATed subnets",
			cloud: func() *cloud {
				c := newCloud().gatewayOn(me)
				r := c.router("router1")
				r.NAT = append(r.NAT, ovnstate.NAT{Type: "snat", ExternalIP: "172.24.4.1", LogicalIP: "10.0.0.0/24"})
				return c
			}(),
			policy: Policy{TenantNetworks: true, TenantMethod: TenantSubnet, RequireSNATDisabled: true},
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:10::/64 tenant-subnet br-ex via 2001:db8:4::1",
				"fd00:10::/64 tenant-subnet br-ex via 2001:db8:4::1",
			},
		},
		{
			name: "overlapping tenant subnets on two routers: the covering one is refused",
			cloud: func() *cloud {
				c := newCloud().gatewayOn(me)
				c.sw("public").Ports = append(c.sw("public").Ports, routerLSP("public-router2", "lrp-gw2"))
				c.st.Switches = append(c.st.Switches, ovnstate.LogicalSwitch{Name: "private2", Ports: []ovnstate.LogicalSwitchPort{routerLSP("private2-router2", "lrp-priv2")}})
				c.st.Routers = append(c.st.Routers, ovnstate.LogicalRouter{Name: "router2", Ports: []ovnstate.LogicalRouterPort{
					{Name: "lrp-gw2", MAC: "fa:16:3e:00:00:03", Networks: []string{"172.24.4.2/24"}},
					{Name: "lrp-priv2", MAC: "fa:16:3e:00:00:04", Networks: []string{"10.0.0.1/25"}},
				}})
				c.st.Bindings = c.st.Bindings.With("cr-lrp-gw2", ovnstate.PortBinding{LogicalPort: "cr-lrp-gw2", Type: "chassisredirect", Chassis: other})
				return c
			}(),
			policy: Policy{TenantNetworks: true, TenantMethod: TenantSubnet},
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:10::/64 tenant-subnet br-ex via 2001:db8:4::1",
				"fd00:10::/64 tenant-subnet br-ex via 2001:db8:4::1",
			},
			findings: []string{
				"Logical_Router_Port lrp-priv (router router1): tenant subnet 10.0.0.0/24 contains 1 more specific tenant subnet(s), first 10.0.0.0/25 of Logical_Router_Port lrp-priv2 (router router2); it is not advertised, so that it cannot capture their traffic",
			},
		},
		{
			name: "load balancers: provider VIPs, VIP floating IPs and port forwardings on the gateway chassis",
			cloud: newCloud().gatewayOn(me).
				lb("lb1", map[string]string{"neutron:vip_fip": "172.24.4.70"}, "10.0.0.100:80", "172.24.4.50:80", "172.24.4.50:443", "[2001:db8:4::50]:80").
				lb("pf-floatingip-abc-tcp", nil, "172.24.4.60:2222"),
			want: []string{
				"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
				"172.24.4.50/32 lb-vip br-ex",
				"172.24.4.60/32 port-forwarding br-ex",
				"172.24.4.70/32 lb-fip br-ex",
				"2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01",
				"2001:db8:4::50/128 lb-vip br-ex",
			},
		},
		{
			name:  "load balancers: gateway elsewhere",
			cloud: newCloud().gatewayOn(other).lb("lb1", map[string]string{"neutron:vip_fip": "172.24.4.70"}, "172.24.4.50:80"),
		},
		{
			name: "bad rows are skipped with a finding, the rest still exposed",
			cloud: func() *cloud {
				c := newCloud().gatewayOn(me).vm("private", "vmA", me, "10.0.0.5").fip("172.24.4.300", "vmA", "fa:16:3e:aa:00:01").
					lb("lb-bad", map[string]string{"neutron:vip_fip": "nope"}, "172.24.4.x:80")
				r := c.router("router1")
				r.Ports[0].Networks = append(r.Ports[0].Networks, "garbage")
				return c
			}(),
			want: []string{"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01", "2001:db8:4::1/128 gateway br-ex mac fa:16:3e:00:00:01"},
			findings: []string{
				`Logical_Router_Port lrp-gw: network "garbage" is not IP/prefix-length`,
				`NAT 172.24.4.300 (router router1): external_ip: "172.24.4.300" is not a unicast IP address`,
				`Load_Balancer lb-bad (router router1): vips: "172.24.4.x:80" is not a unicast IP address`,
				`Load_Balancer lb-bad (router router1): external_ids:neutron:vip_fip: "nope" is not a unicast IP address`,
			},
		},
		{
			name: "live migration: only the binding's main chassis advertises",
			cloud: func() *cloud {
				c := newCloud().vm("public", "vmM", other, "172.24.4.20")
				b, _ := c.st.Bindings.Get("vmM")
				b.AdditionalChassis = []string{me}
				c.st.Bindings = c.st.Bindings.With("vmM", b)
				return c
			}(),
		},
		{
			name: "virtual port with its virtual IP",
			cloud: func() *cloud {
				c := newCloud()
				c.sw("public").Ports = append(c.sw("public").Ports, ovnstate.LogicalSwitchPort{Name: "vip1", Type: "virtual",
					Options: map[string]string{"virtual-ip": "172.24.4.99", "virtual-parents": "vmA"}})
				c.st.Bindings = c.st.Bindings.With("vip1", ovnstate.PortBinding{LogicalPort: "vip1", Type: "virtual", Chassis: me})
				return c
			}(),
			want: []string{"172.24.4.99/32 vm br-ex"},
		},
		{
			name: "port security off: addresses from neutron:cidrs",
			cloud: func() *cloud {
				c := newCloud()
				c.sw("public").Ports = append(c.sw("public").Ports, ovnstate.LogicalSwitchPort{Name: "vmU", Addresses: []string{"unknown"},
					ExternalIDs: map[string]string{"neutron:cidrs": "172.24.4.33/24 2001:db8:4::33/64"}})
				c.st.Bindings = c.st.Bindings.With("vmU", ovnstate.PortBinding{LogicalPort: "vmU", Chassis: me})
				return c
			}(),
			want: []string{"172.24.4.33/32 vm br-ex", "2001:db8:4::33/128 vm br-ex"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, findings := Compute(tt.cloud.st, node, tt.policy)
			if diff := cmp.Diff(tt.want, exposed(d)); diff != "" {
				t.Errorf("exposures (-want +got):\n%s", diff)
			}
			var got []string
			for _, f := range findings {
				got = append(got, f.String())
			}
			slices.Sort(got)
			want := slices.Clone(tt.findings)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, e := range d.Exposures {
				if e.Reason == "" || e.Object == "" {
					t.Errorf("exposure %s has no reason or object", e.Prefix)
				}
			}
		})
	}
}

func TestLiveMigrationExactlyOneNodeAdvertises(t *testing.T) {
	c := newCloud().vm("public", "vmM", "compute-0", "172.24.4.20")
	b, _ := c.st.Bindings.Get("vmM")
	b.AdditionalChassis = []string{"compute-1"}
	c.st.Bindings = c.st.Bindings.With("vmM", b)
	count := 0
	for _, ch := range []string{"compute-0", "compute-1"} {
		n := ovnstate.Identity{Chassis: ch, BridgeMappings: node.BridgeMappings}
		d, _ := Compute(c.st, n, Policy{})
		count += len(d.Addrs())
	}
	if count != 1 {
		t.Errorf("during a migration %d nodes advertise the VM, want exactly 1", count)
	}
}

func TestExplain(t *testing.T) {
	c := newCloud().gatewayOn("compute-1").vm("private", "vmA", "compute-0", "10.0.0.5").fip("172.24.4.100", "vmA", "fa:16:3e:aa:00:01").
		vm("public", "vmR", "compute-1", "172.24.4.20")
	ex := Explain(c.st, node, Policy{}, netip.MustParseAddr("172.24.4.100"))
	if ex.Exposed == nil || ex.Exposed.Kind != KindFIP || !strings.Contains(ex.Exposed.Reason, "distributed floating IP of VM port vmA") {
		t.Errorf("FIP: want exposed as a distributed FIP with its reason, got %+v", ex)
	}
	ex = Explain(c.st, node, Policy{}, netip.MustParseAddr("172.24.4.20"))
	if ex.Exposed != nil || len(ex.Decisions) != 1 || !strings.Contains(ex.Decisions[0].Reason, "bound to chassis compute-1") ||
		ex.Decisions[0].Object != "Logical_Switch_Port vmR" {
		t.Errorf("remote VM: want not exposed, one decision naming the port and chassis compute-1, got %+v", ex)
	}
	ex = Explain(c.st, node, Policy{}, netip.MustParseAddr("172.24.4.1"))
	if ex.Exposed != nil || len(ex.Decisions) == 0 || !strings.Contains(ex.Decisions[0].Reason, "hosted on chassis compute-1") {
		t.Errorf("gateway elsewhere: got %+v", ex)
	}
	ex = Explain(c.st, node, Policy{}, netip.MustParseAddr("192.0.2.1"))
	if ex.Exposed != nil || len(ex.Decisions) != 0 {
		t.Errorf("unknown address: want no decisions, got %+v", ex)
	}
}

func TestBridgesCarryVLANs(t *testing.T) {
	c := newCloud()
	c.st.Switches = append(c.st.Switches, ovnstate.LogicalSwitch{Name: "vlan100", Ports: []ovnstate.LogicalSwitchPort{
		{Name: "provnet-vlan100", Type: "localnet", Options: map[string]string{"network_name": "physnet1"}, Tag: 100}}})
	d, _ := Compute(c.st, node, Policy{})
	want := []Bridge{{Name: "br-ex", Physnet: "physnet1", VLANs: []uint16{100}}}
	if diff := cmp.Diff(want, d.Bridges); diff != "" {
		t.Errorf("bridges (-want +got):\n%s", diff)
	}
}

func TestMigrationSourceLeavesBeforeTheBindingMoves(t *testing.T) {
	for _, tc := range []struct {
		requested string
		want      int
	}{{"", 1}, {"compute-0", 1}, {"compute-1", 0}} {
		c := newCloud().vm("public", "vmM", "compute-0", "172.24.4.20")
		b, _ := c.st.Bindings.Get("vmM")
		b.RequestedChassis = tc.requested
		c.st.Bindings = c.st.Bindings.With("vmM", b)
		d, _ := Compute(c.st, node, Policy{})
		if got := len(d.Addrs()); got != tc.want {
			t.Errorf("bound here, requested-chassis %q: %d addresses exposed, want %d", tc.requested, got, tc.want)
		}
	}
	ex := Explain(func() ovnstate.State {
		c := newCloud().vm("public", "vmM", "compute-0", "172.24.4.20")
		b, _ := c.st.Bindings.Get("vmM")
		b.RequestedChassis = "compute-1"
		c.st.Bindings = c.st.Bindings.With("vmM", b)
		return c.st
	}(), node, Policy{}, netip.MustParseAddr("172.24.4.20"))
	if len(ex.Decisions) != 1 || !strings.Contains(ex.Decisions[0].Reason, "requested-chassis now names compute-1") {
		t.Errorf("explain: %+v", ex)
	}
}

// A source that could not read a row says so through State.Refused; the core reports it as a
// finding that explain finds by address.
func TestSourceRefusalsBecomeFindings(t *testing.T) {
	c := newCloud()
	c.st.Refused = []ovnstate.Refusal{{Object: "Port_Binding public-router1", Message: `nat_addresses: "zz 172.24.4.9" does not start with a MAC address`,
		Prefixes: []netip.Prefix{netip.MustParsePrefix("172.24.4.9/32")}}}
	_, findings := Compute(c.st, node, Policy{})
	if len(findings) != 1 || findings[0].Object != "Port_Binding public-router1" {
		t.Fatalf("findings: %+v, want the one refusal", findings)
	}
	if ex := Explain(c.st, node, Policy{}, netip.MustParseAddr("172.24.4.9")); len(ex.Findings) != 1 {
		t.Errorf("explain: %+v, want the refusal among the findings", ex)
	}
}

// With SNAT rules unknown (SB-only source), require_snat_disabled_for_tenant_networks cannot
// be decided: no tenant subnet is advertised, each with a finding, and without the option
// they are.
func TestTenantSubnetsWithSNATUnknown(t *testing.T) {
	c := newCloud().gatewayOn("compute-0")
	c.st.SNATUnknown = true
	d, findings := Compute(c.st, node, Policy{TenantNetworks: true, TenantMethod: TenantSubnet, RequireSNATDisabled: true})
	if got := len(d.Subnets()); got != 0 {
		t.Errorf("%d tenant subnets advertised with SNAT unknown, want 0", got)
	}
	if len(findings) != 3 || !strings.Contains(findings[0].Message, "does not say whether router router1 SNATs") {
		t.Errorf("findings: %v, want one per tenant subnet", findings)
	}
	d, findings = Compute(c.st, node, Policy{TenantNetworks: true, TenantMethod: TenantSubnet})
	if got := len(d.Subnets()); got != 3 || len(findings) != 0 {
		t.Errorf("without the option: %d subnets, findings %v; want 3 and none", got, findings)
	}
}
