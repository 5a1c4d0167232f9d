package exposure

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

func FuzzParseVIP(f *testing.F) {
	for _, s := range []string{"172.24.4.50:80", "[2001:db8::1]:443", "10.0.0.1", "2001:db8::1", "[", "1.2.3.4:", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := parseVIP(s); err == nil && (!a.IsGlobalUnicast() || a.Is4In6() || a.Zone() != "") {
			t.Fatalf("parseVIP(%q) = %v", s, a)
		}
	})
}

func FuzzParseNetwork(f *testing.F) {
	for _, s := range []string{"172.24.4.1/24", "2001:db8::1/64", "::ffff:10.0.0.1/120", "::ffff:10.0.0.1/90", "10.0.0.1", "fe80::1%eth0/64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, p, err := parseNetwork(s)
		if err == nil && (!p.Contains(a) || a.Is4In6() || !p.IsValid()) {
			t.Fatalf("parseNetwork(%q) = %v, %v", s, a, p)
		}
	})
}

// FuzzCompute puts arbitrary strings in every column the core parses, and in the node's own
// facts, and checks that it never panics and only ever exposes valid prefixes that respect
// the bounds and contain nothing the node itself needs.
func FuzzCompute(f *testing.F) {
	f.Add("fa:16:3e:00:00:01 172.24.4.10", "172.24.4.1/24", "172.24.4.100", "172.24.4.50:80", "10.0.0.5/24", "10.0.0.0/24", "False", "172.30.1.10/24", "172.30.1.254")
	f.Add("router", "garbage", "", "[::1]:x", "::/0", "1.2.3.4/40", "", "", "")
	f.Add("fa:16:3e:00:00:01 10.0.0.7", "10.0.0.1/1", "172.30.1.254", "172.30.0.1:6642", "10.0.0.5/24", "", "True", "10.0.0.7/8", "10.200.0.1")
	f.Add("fa:16:3e:00:00:01 10.0.0.7", "10.0.0.1/0", "2001:db8::1", "[2001:db8::1]:80", "", "", "", "2001:db8::5/64", "2001:db8::1")
	f.Add("", "200.0.0.1/2", "", "", "", "", "", "", "")
	f.Add("fa:16:3e:00:00:01 172.24.4.200", "", "8.8.8.8", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, addresses, network, fip, vip, cidrs, snat, distributed, own, peer string) {
		c := newCloud().gatewayOn("compute-0")
		c.st.NBGlobalExternalIDs = map[string]string{"neutron:fip-distributed": distributed}
		c.sw("private").Ports = append(c.sw("private").Ports, ovnstate.LogicalSwitchPort{Name: "vmA", Addresses: []string{addresses},
			ExternalIDs: map[string]string{"neutron:cidrs": cidrs}})
		c.sw("public").Ports = append(c.sw("public").Ports, ovnstate.LogicalSwitchPort{Name: "vmP", Addresses: []string{addresses},
			ExternalIDs: map[string]string{"neutron:cidrs": cidrs}})
		c.st.Bindings = c.st.Bindings.With("vmA", ovnstate.PortBinding{LogicalPort: "vmA", Chassis: "compute-0"})
		c.st.Bindings = c.st.Bindings.With("vmP", ovnstate.PortBinding{LogicalPort: "vmP", Chassis: "compute-0"})
		r := c.router("router1")
		r.Ports[1].Networks = append(r.Ports[1].Networks, network)
		r.NAT = append(r.NAT, ovnstate.NAT{Type: "dnat_and_snat", ExternalIP: fip, LogicalPort: "vmA", ExternalMAC: "x"},
			ovnstate.NAT{Type: "snat", LogicalIP: snat})
		r.LoadBalancers = append(r.LoadBalancers, ovnstate.LoadBalancer{Name: "lb", VIPs: map[string]string{vip: ""},
			ExternalIDs: map[string]string{"neutron:vip_fip": fip}})
		id := node
		if p, err := netip.ParsePrefix(own); err == nil {
			id.Facts.Addresses = append(id.Facts.Addresses, p)
		}
		if a, err := netip.ParseAddr(peer); err == nil {
			id.Facts.Peers = append(id.Facts.Peers, a)
			id.Facts.Endpoints = append(id.Facts.Endpoints, a)
		}
		in := newInfrastructure(id.Facts)
		for _, p := range []Policy{{}, {TenantNetworks: true, RequireSNATDisabled: true}, {TenantNetworks: true, TenantMethod: TenantSubnet},
			{TenantNetworks: true, TenantMethod: TenantSubnet, Bounds: Bounds{MinIPv4: 20, MinIPv6: 60}},
			{Allowed: map[Kind]Allowed{KindFIP: {Provider: true}, KindLBFIP: {Provider: true}, KindVM: {Prefixes: []netip.Prefix{netip.MustParsePrefix("172.24.4.0/25")}}}}} {
			d, findings := Compute(c.st, id, p)
			// A Memo says the same, deciding every port (first call) or reusing them all.
			m := NewMemo()
			for range 2 {
				md, mf := m.Compute(c.st, id, p)
				if diff := cmp.Diff(d, md, cmpAddrs); diff != "" {
					t.Fatalf("Memo.Compute differs from Compute (-Compute +Memo):\n%s", diff)
				}
				if diff := cmp.Diff(findings, mf, cmpAddrs); diff != "" {
					t.Fatalf("Memo.Compute's findings differ from Compute's (-Compute +Memo):\n%s", diff)
				}
			}
			bounds := p.Bounds.effective()
			for _, e := range d.Exposures {
				if !e.Prefix.IsValid() || e.Prefix != e.Prefix.Masked() || e.Wiring.Bridge == "" {
					t.Fatalf("invalid exposure %+v", e)
				}
				if e.Prefix.Bits() == 0 || !e.Prefix.IsSingleIP() && e.Prefix.Bits() < bounds.min(e.Prefix.Addr()) {
					t.Fatalf("exposure %s is shorter than the bounds %+v", e.Prefix, bounds)
				}
				if lim, ok := p.Allowed[e.Kind]; ok && !allowedIn(e.Prefix, lim) {
					t.Fatalf("exposure %s %s is outside its allow-list %v", e.Kind, e.Prefix, lim)
				}
				for _, a := range in.addrs {
					if e.Prefix.Contains(a) {
						t.Fatalf("exposure %s contains the node's own %s (facts %+v)", e.Prefix, a, id.Facts)
					}
				}
				for _, n := range in.connected {
					if e.Prefix.Overlaps(n) {
						t.Fatalf("exposure %s overlaps the node's connected network %s", e.Prefix, n)
					}
				}
			}
		}
	})
}

// allowedIn checks an allow-list the long way; "provider" is the test cloud's public network.
func allowedIn(p netip.Prefix, a Allowed) bool {
	ranges := a.Prefixes
	if a.Provider {
		ranges = append(ranges, netip.MustParsePrefix("172.24.4.0/24"), netip.MustParsePrefix("2001:db8:4::/64"))
	}
	for _, r := range ranges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
