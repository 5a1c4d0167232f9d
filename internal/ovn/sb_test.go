package ovn

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// sbFixture holds SB rows as ovn-northd 23.03 writes them for the lab's OpenStack setup
// (recorded with ovn-sbctl list from a real northd run): provider network "public" on
// physnet1, router1 with gateway lrp-gw (172.24.4.1/24, nat-addresses=router on its switch
// port) and tenant network "private" (10.0.0.0/24) behind lrp-private.
type sbFixture struct{ rows sbRows }

const (
	dpPublic  = "d1cb5335-ebed-4064-aea9-15fb679f19a6"
	dpPrivate = "a4506e8e-1266-4a50-a771-bf3514577d09"
	dpRouter1 = "2d307cbb-3afc-4309-8bb7-e6741755884f"
)

func newSBFixture() *sbFixture {
	f := &sbFixture{}
	f.rows.chassis = []sbdb.Chassis{{UUID: "ch-a", Name: "node-a"}, {UUID: "ch-b", Name: "node-b"}}
	f.rows.datapaths = []sbdb.DatapathBinding{
		{UUID: dpPublic, ExternalIDs: map[string]string{"logical-switch": "89733c38", "name": "public", "name2": "public"}},
		{UUID: dpPrivate, ExternalIDs: map[string]string{"logical-switch": "d6e8f5b0", "name": "private", "name2": "private"}},
		{UUID: dpRouter1, ExternalIDs: map[string]string{"logical-router": "f02818dd", "name": "router1"}},
	}
	f.add(sbdb.PortBinding{LogicalPort: "provnet-public", Datapath: dpPublic, Type: "localnet", MAC: []string{"unknown"},
		Options: map[string]string{"network_name": "physnet1"}})
	f.add(sbdb.PortBinding{LogicalPort: "public-router1", Datapath: dpPublic, Type: "patch", MAC: []string{"router"},
		Options:      map[string]string{"peer": "lrp-gw"},
		NatAddresses: []string{`fa:16:3e:00:00:01 172.24.4.1 is_chassis_resident("cr-lrp-gw")`}})
	f.add(sbdb.PortBinding{LogicalPort: "private-router1", Datapath: dpPrivate, Type: "patch", MAC: []string{"router"},
		Options: map[string]string{"peer": "lrp-private"}})
	f.add(sbdb.PortBinding{LogicalPort: "lrp-private", Datapath: dpRouter1, Type: "patch", MAC: []string{"fa:16:3e:00:00:02 10.0.0.1/24"},
		Options: map[string]string{"peer": "private-router1"}})
	f.add(sbdb.PortBinding{LogicalPort: "lrp-gw", Datapath: dpRouter1, Type: "patch", MAC: []string{"fa:16:3e:00:00:01 172.24.4.1/24"},
		Options: map[string]string{"chassis-redirect-port": "cr-lrp-gw", "peer": "public-router1"}})
	f.add(sbdb.PortBinding{LogicalPort: "cr-lrp-gw", Datapath: dpRouter1, Type: "chassisredirect", MAC: []string{"fa:16:3e:00:00:01 172.24.4.1/24"},
		Options: map[string]string{"distributed-port": "lrp-gw"}})
	return f
}

func (f *sbFixture) add(pb sbdb.PortBinding) *sbFixture {
	if pb.UUID == "" {
		pb.UUID = "pb-" + pb.LogicalPort
	}
	f.rows.bindings = append(f.rows.bindings, pb)
	return f
}

func (f *sbFixture) binding(port string) *sbdb.PortBinding {
	for i := range f.rows.bindings {
		if f.rows.bindings[i].LogicalPort == port {
			return &f.rows.bindings[i]
		}
	}
	panic(port)
}

func chassisRef(name string) *string {
	u := map[string]string{"node-a": "ch-a", "node-b": "ch-b"}[name]
	return &u
}

// gatewayOn binds cr-lrp-gw to chassis.
func (f *sbFixture) gatewayOn(chassis string) *sbFixture {
	f.binding("cr-lrp-gw").Chassis = chassisRef(chassis)
	return f
}

// vm adds a VM port on datapath dp bound to chassis ("" = unbound); mac is the mac column.
func (f *sbFixture) vm(dp, name, chassis string, mac ...string) *sbFixture {
	pb := sbdb.PortBinding{LogicalPort: name, Datapath: dp, MAC: mac, ExternalIDs: map[string]string{"neutron:device_owner": "compute:nova"}}
	if chassis != "" {
		pb.Chassis = chassisRef(chassis)
	}
	return f.add(pb)
}

// nat adds nat_addresses entries to the gateway's switch port.
func (f *sbFixture) nat(entries ...string) *sbFixture {
	b := f.binding("public-router1")
	b.NatAddresses = append(b.NatAddresses, entries...)
	return f
}

var nodeA = ovnstate.Identity{Chassis: "node-a", BridgeMappings: map[string]string{"physnet1": "br-ex"}}

// exposedLines renders exposures as "prefix kind bridge [via X] [mac M]".
func exposedLines(d exposure.Desired) []string {
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

const gwLine = "172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01"

// TestSBStateExposureKinds maps recorded SB rows to State and runs the one exposure core on
// it: every kind the SB engine supports comes out as with the NB engine.
func TestSBStateExposureKinds(t *testing.T) {
	tests := []struct {
		name     string
		fixture  *sbFixture
		policy   exposure.Policy
		want     []string
		findings []string
	}{
		{
			name:    "provider VM bound here",
			fixture: newSBFixture().vm(dpPublic, "pvm", "node-a", "fa:16:3e:cc:00:01 172.24.4.20"),
			want:    []string{"172.24.4.20/32 vm br-ex"},
		},
		{
			name:    "provider VM bound elsewhere",
			fixture: newSBFixture().vm(dpPublic, "pvm", "node-b", "fa:16:3e:cc:00:01 172.24.4.20"),
		},
		{
			name: "provider VM with port security off: neutron:cidrs copied into SB",
			fixture: func() *sbFixture {
				f := newSBFixture().vm(dpPublic, "pvm", "node-a", "unknown")
				f.binding("pvm").ExternalIDs["neutron:cidrs"] = "172.24.4.33/24"
				return f
			}(),
			want: []string{"172.24.4.33/32 vm br-ex"},
		},
		{
			name:    "router gateway hosted here",
			fixture: newSBFixture().gatewayOn("node-a"),
			want:    []string{gwLine},
		},
		{
			name:    "router gateway hosted elsewhere",
			fixture: newSBFixture().gatewayOn("node-b"),
		},
		{
			name: "distributed FIP: on the VM's chassis, not the gateway's",
			fixture: newSBFixture().gatewayOn("node-b").vm(dpPrivate, "vmA", "node-a", "fa:16:3e:aa:00:01 10.0.0.5").
				nat(`fa:16:3e:aa:00:01 172.24.4.100 is_chassis_resident("vmA")`),
			want: []string{"172.24.4.100/32 fip br-ex"},
		},
		{
			name: "distributed FIP: VM elsewhere",
			fixture: newSBFixture().gatewayOn("node-a").vm(dpPrivate, "vmA", "node-b", "fa:16:3e:aa:00:01 10.0.0.5").
				nat(`fa:16:3e:aa:00:01 172.24.4.100 is_chassis_resident("vmA")`),
			want: []string{gwLine},
		},
		{
			name: "centralized FIPs and FIPs without external_mac: on the gateway chassis",
			fixture: newSBFixture().gatewayOn("node-a").vm(dpPrivate, "vmB", "node-b", "fa:16:3e:aa:00:02 10.0.0.6").
				nat(`fa:16:3e:00:00:01 172.24.4.102 172.24.4.101 is_chassis_resident("cr-lrp-gw")`),
			want: []string{gwLine, "172.24.4.101/32 fip br-ex", "172.24.4.102/32 fip br-ex"},
		},
		{
			name: "centralized FIPs: gateway elsewhere",
			fixture: newSBFixture().gatewayOn("node-b").
				nat(`fa:16:3e:00:00:01 172.24.4.102 172.24.4.101 is_chassis_resident("cr-lrp-gw")`),
		},
		{
			name: "load balancer on the tenant switch: provider VIP and VIP floating IP on the gateway chassis, tenant VIP not at all",
			fixture: func() *sbFixture {
				f := newSBFixture().gatewayOn("node-a").
					nat(`fa:16:3e:00:00:01 172.24.4.102 172.24.4.50 10.0.0.100 172.24.4.70 is_chassis_resident("cr-lrp-gw")`).
					add(sbdb.PortBinding{LogicalPort: "9b1c", Datapath: dpPrivate, ExternalIDs: map[string]string{
						"neutron:port_name": "ovn-lb-vip-lb2", "neutron:port_fip": "172.24.4.70", "neutron:cidrs": "10.0.0.100/24"}})
				g := "grp1"
				f.rows.groups = []sbdb.LogicalDPGroup{{UUID: g, Datapaths: []string{dpPrivate}}}
				f.rows.lbs = []sbdb.LoadBalancer{
					{UUID: "lb-1", Name: "lb1", DatapathGroup: &g, Vips: map[string]string{"172.24.4.50:80": "10.0.0.5:80"}},
					{UUID: "lb-2", Name: "lb2", Datapaths: []string{dpPrivate}, Vips: map[string]string{"10.0.0.100:80": "10.0.0.5:80"}},
				}
				return f
			}(),
			want: []string{gwLine, "172.24.4.50/32 lb-vip br-ex", "172.24.4.70/32 lb-fip br-ex", "172.24.4.102/32 fip br-ex"},
		},
		{
			name: "VIP floating IP of a load balancer SB does not hold: still on the gateway chassis, as a floating IP",
			fixture: newSBFixture().gatewayOn("node-a").
				nat(`fa:16:3e:00:00:01 172.24.4.70 is_chassis_resident("cr-lrp-gw")`).
				add(sbdb.PortBinding{LogicalPort: "ovn-lb-vip-lbX", Datapath: dpPrivate, ExternalIDs: map[string]string{"neutron:port_fip": "172.24.4.70"}}),
			want: []string{gwLine, "172.24.4.70/32 fip br-ex"},
		},
		{
			name:    "tenant networks, host method: each bound VM IP via the gateway hosted here",
			fixture: newSBFixture().gatewayOn("node-a").vm(dpPrivate, "vmT", "node-b", "fa:16:3e:bb:00:01 10.0.0.5").vm(dpPrivate, "vmU", "", "fa:16:3e:bb:00:02 10.0.0.6"),
			policy:  exposure.Policy{TenantNetworks: true},
			want:    []string{"10.0.0.5/32 tenant br-ex via 172.24.4.1", gwLine},
		},
		{
			name:    "tenant networks, subnet method",
			fixture: newSBFixture().gatewayOn("node-a"),
			policy:  exposure.Policy{TenantNetworks: true, TenantMethod: exposure.TenantSubnet},
			want:    []string{"10.0.0.0/24 tenant-subnet br-ex via 172.24.4.1", gwLine},
		},
		{
			name:    "tenant networks with require_snat_disabled: SB has no SNAT rules, so refused with a finding",
			fixture: newSBFixture().gatewayOn("node-a"),
			policy:  exposure.Policy{TenantNetworks: true, TenantMethod: exposure.TenantSubnet, RequireSNATDisabled: true},
			want:    []string{gwLine},
			findings: []string{"Logical_Router_Port lrp-private (router router1): require_snat_disabled_for_tenant_networks is set, " +
				"but the Southbound database does not say whether router router1 SNATs 10.0.0.0/24; not advertised"},
		},
		{
			name: "live migration: the additional chassis does not advertise",
			fixture: func() *sbFixture {
				f := newSBFixture().vm(dpPublic, "vmM", "node-b", "fa:16:3e:cc:00:01 172.24.4.30")
				f.binding("vmM").AdditionalChassis = []string{"ch-a"}
				return f
			}(),
		},
		{
			name: "live migration: the source withdraws once requested_chassis names the target",
			fixture: func() *sbFixture {
				f := newSBFixture().vm(dpPublic, "vmM", "node-a", "fa:16:3e:cc:00:01 172.24.4.30")
				f.binding("vmM").RequestedChassis = chassisRef("node-b")
				return f
			}(),
		},
		{
			name: "virtual port with its virtual IP",
			fixture: newSBFixture().add(sbdb.PortBinding{LogicalPort: "vip1", Datapath: dpPublic, Type: "virtual", Chassis: chassisRef("node-a"),
				Options: map[string]string{"virtual-ip": "172.24.4.99", "virtual-parents": "pvm"}}),
			want: []string{"172.24.4.99/32 vm br-ex"},
		},
		{
			name: "malformed nat_addresses: one finding for the row, its good entries still used",
			fixture: newSBFixture().gatewayOn("node-a").
				nat(`zz:16:3e:00:00:01 172.24.4.103 is_chassis_resident("cr-lrp-gw")`, `fa:16:3e:00:00:01 172.24.4.300`,
					`fa:16:3e:00:00:01 172.24.4.104 is_chassis_resident("cr-lrp-gw"`, `fa:16:3e:00:00:01 172.24.4.105 is_chassis_resident("cr-lrp-gw")`),
			want: []string{gwLine, "172.24.4.105/32 fip br-ex"},
			findings: []string{`Port_Binding public-router1: nat_addresses of router router1's port lrp-gw: ` +
				`"zz:16:3e:00:00:01 172.24.4.103 is_chassis_resident(\"cr-lrp-gw\")" does not start with a MAC address; ` +
				`"fa:16:3e:00:00:01 172.24.4.300": "172.24.4.300" is not a unicast IP address; ` +
				`"fa:16:3e:00:00:01 172.24.4.104 is_chassis_resident(\"cr-lrp-gw\"": "is_chassis_resident(\"cr-lrp-gw\"" is not is_chassis_resident("PORT"); ` +
				`those entries are left out`},
		},
		{
			name:     "malformed VM mac: one finding, never a panic",
			fixture:  newSBFixture().vm(dpPublic, "pvm", "node-a", "not-a-mac 172.24.4.20"),
			findings: []string{`Logical_Switch_Port pvm: malformed addresses: "not-a-mac 172.24.4.20" does not start with a MAC address`},
		},
		{
			name: "malformed router port mac: the port is refused once, the router has no gateway",
			fixture: func() *sbFixture {
				f := newSBFixture().gatewayOn("node-a")
				f.binding("lrp-gw").MAC = []string{"fa:16:3e:00:00 172.24.4.1/24"}
				return f
			}(),
			findings: []string{`Port_Binding lrp-gw: router port of router1: mac "fa:16:3e:00:00 172.24.4.1/24" does not start with a MAC address; the port is left out`},
		},
		{
			name: "gateway switch port without nat_addresses: the missing floating IPs are reported, the gateway still exposed",
			fixture: func() *sbFixture {
				f := newSBFixture().gatewayOn("node-a")
				f.binding("public-router1").NatAddresses = nil
				return f
			}(),
			want: []string{gwLine},
			findings: []string{"Port_Binding public-router1: switch port of gateway port lrp-gw has no nat_addresses " +
				"(options:nat-addresses=router, which neutron sets, is missing): its floating IPs cannot be read from the Southbound database"},
		},
		{
			name: "datapath that is neither switch nor router: refused once",
			fixture: func() *sbFixture {
				f := newSBFixture()
				f.rows.datapaths = append(f.rows.datapaths, sbdb.DatapathBinding{UUID: "dp-x", ExternalIDs: map[string]string{"interconn-ts": "ts1"}})
				return f.add(sbdb.PortBinding{LogicalPort: "ts-port", Datapath: "dp-x", Chassis: chassisRef("node-a"), MAC: []string{"fa:16:3e:00:00:09 172.24.4.9"}})
			}(),
			findings: []string{"Datapath_Binding dp-x: external_ids names neither logical-switch nor logical-router; its ports are left out"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.fixture.rows.state()
			d, findings := exposure.Compute(st, nodeA, tt.policy)
			want := slices.Clone(tt.want)
			got := exposedLines(d)
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("exposures (-want +got):\n%s", diff)
			}
			var gotF []string
			for _, f := range findings {
				gotF = append(gotF, f.String())
			}
			if diff := cmp.Diff(tt.findings, gotF); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSBStateShape checks the mapping itself on the recorded rows: the same shape the NB
// engine builds, patch ports as router ports, the router's networks from mac.
func TestSBStateShape(t *testing.T) {
	f := newSBFixture().gatewayOn("node-a").vm(dpPrivate, "vmA", "node-a", "fa:16:3e:aa:00:01 10.0.0.5").
		nat(`fa:16:3e:aa:00:01 172.24.4.100 is_chassis_resident("vmA")`, `fa:16:3e:00:00:01 172.24.4.102 is_chassis_resident("cr-lrp-gw")`)
	tag := 100
	f.binding("provnet-public").Tag = &tag
	st := f.rows.state()
	if !st.SNATUnknown {
		t.Error("SNATUnknown not set: SB has no SNAT rules")
	}
	var names []string
	for _, ls := range st.Switches {
		for _, p := range ls.Ports {
			names = append(names, fmt.Sprintf("%s/%s:%s:%s tag=%d", ls.Name, p.Name, p.Type, p.Options["router-port"], p.Tag))
		}
	}
	wantPorts := []string{
		"private/private-router1:router:lrp-private tag=0", "private/vmA:: tag=0",
		"public/provnet-public:localnet: tag=100", "public/public-router1:router:lrp-gw tag=0",
	}
	if diff := cmp.Diff(wantPorts, names); diff != "" {
		t.Errorf("switch ports (-want +got):\n%s", diff)
	}
	if len(st.Routers) != 1 {
		t.Fatalf("routers: %+v", st.Routers)
	}
	r := st.Routers[0]
	wantRouter := ovnstate.LogicalRouter{UUID: "f02818dd", Name: "router1", ExternalIDs: map[string]string{"logical-router": "f02818dd", "name": "router1"},
		Ports: []ovnstate.LogicalRouterPort{
			{UUID: "pb-lrp-gw", Name: "lrp-gw", MAC: "fa:16:3e:00:00:01", Networks: []string{"172.24.4.1/24"},
				Options: map[string]string{"chassis-redirect-port": "cr-lrp-gw", "peer": "public-router1"}},
			{UUID: "pb-lrp-private", Name: "lrp-private", MAC: "fa:16:3e:00:00:02", Networks: []string{"10.0.0.1/24"},
				Options: map[string]string{"peer": "private-router1"}},
		},
		NAT: []ovnstate.NAT{
			{Type: "dnat_and_snat", ExternalIP: "172.24.4.100", ExternalMAC: "fa:16:3e:aa:00:01", LogicalPort: "vmA"},
			{Type: "dnat_and_snat", ExternalIP: "172.24.4.102"},
		},
	}
	if diff := cmp.Diff(wantRouter, r); diff != "" {
		t.Errorf("router1 (-want +got):\n%s", diff)
	}
	if b := st.Bindings.At("cr-lrp-gw"); b.Chassis != "node-a" || b.Type != "chassisredirect" {
		t.Errorf("cr-lrp-gw binding: %+v", b)
	}
}

func TestParseNATAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "mac ips resident" or "error"
	}{
		{`fa:16:3e:00:00:01 172.24.4.1 is_chassis_resident("cr-lrp-gw")`, "fa:16:3e:00:00:01 [172.24.4.1] cr-lrp-gw"},
		{`FA:16:3E:00:00:01 172.24.4.1 2001:db8::5`, "fa:16:3e:00:00:01 [172.24.4.1 2001:db8::5] "},
		{`fa:16:3e:00:00:01 ::ffff:172.24.4.1`, "fa:16:3e:00:00:01 [172.24.4.1] "},
		{``, "error"},
		{`fa:16:3e:00:00:01`, "error"},
		{`fa:16:3e:00:00:01 is_chassis_resident("x")`, "error"},
		{`fa:16:3e:00:00:01 172.24.4.1 is_chassis_resident("")`, "error"},
		{`fa:16:3e:00:00:01 172.24.4.1 is_chassis_resident(x)`, "error"},
		{`fa:16:3e:00:00:01 172.24.4.1/24`, "error"},
		{`fa:16:3e:00:00:01 fe80::1%eth0`, "error"},
		{`fa:16:3e:00:00:01 224.0.0.1`, "error"},
		{`172.24.4.1 fa:16:3e:00:00:01`, "error"},
	} {
		na, err := parseNATAddress(tc.in)
		got := "error"
		if err == nil {
			got = fmt.Sprintf("%s %v %s", na.MAC, na.IPs, na.Resident)
		}
		if got != tc.want {
			t.Errorf("parseNATAddress(%q) = %q (%v), want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseNATAddress(f *testing.F) {
	for _, s := range []string{`fa:16:3e:00:00:01 172.24.4.1 is_chassis_resident("cr-lrp-gw")`, `fa:16:3e:00:00:01 2001:db8::1`,
		`zz 1.2.3.4`, `fa:16:3e:00:00:01 1.2.3.4 is_chassis_resident("`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		na, err := parseNATAddress(s)
		if err != nil {
			return
		}
		if !exposure.IsMAC(na.MAC) || len(na.IPs) == 0 || strings.ContainsAny(na.Resident, `"() `) {
			t.Fatalf("parseNATAddress(%q) = %+v", s, na)
		}
		for _, a := range na.IPs {
			if !a.IsGlobalUnicast() || a.Is4In6() || a.Zone() != "" {
				t.Fatalf("parseNATAddress(%q): address %v", s, a)
			}
		}
	})
}

func FuzzRouterPortMAC(f *testing.F) {
	for _, s := range []string{"fa:16:3e:00:00:01 172.24.4.1/24", "fa:16:3e:00:00:01", "router", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mac, _, err := routerPortMAC([]string{s})
		if err == nil && !exposure.IsMAC(mac) {
			t.Fatalf("routerPortMAC(%q) = %q", s, mac)
		}
	})
}

// FuzzSBState puts arbitrary strings in the SB columns the engine parses (mac, nat_addresses,
// options:peer, datapath names) and checks that building the state and computing on it
// never panics and only exposes valid prefixes.
func FuzzSBState(f *testing.F) {
	f.Add("fa:16:3e:cc:00:01 172.24.4.20", `fa:16:3e:aa:00:01 172.24.4.100 is_chassis_resident("vmA")`, "fa:16:3e:00:00:01 172.24.4.1/24", "lrp-gw", "public")
	f.Add("unknown", `zz 1.2.3.4 is_chassis_resident("`, "", "", "")
	f.Fuzz(func(t *testing.T, vmMAC, nat, lrpMAC, peer, name string) {
		fx := newSBFixture().gatewayOn("node-a").vm(dpPublic, "pvm", "node-a", vmMAC).vm(dpPrivate, "vmA", "node-a", vmMAC).nat(nat)
		fx.binding("lrp-gw").MAC = []string{lrpMAC}
		fx.binding("public-router1").Options["peer"] = peer
		fx.rows.datapaths[0].ExternalIDs["name"] = name
		st := fx.rows.state()
		for _, p := range []exposure.Policy{{}, {TenantNetworks: true}, {TenantNetworks: true, TenantMethod: exposure.TenantSubnet}} {
			d, _ := exposure.Compute(st, nodeA, p)
			for _, e := range d.Exposures {
				if !e.Prefix.IsValid() || e.Prefix != e.Prefix.Masked() || e.Wiring.Bridge == "" {
					t.Fatalf("invalid exposure %+v", e)
				}
			}
		}
	})
}
