package exposure

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// An IPv6 VM on a provider network asks for an NDP proxy of its subnet's subnet-router
// anycast address, taken from neutron:cidrs; IPv4 addresses and ports without the subnet in
// neutron:cidrs ask for none (the subnet is never guessed from the address).
func TestProviderVMNDPProxy(t *testing.T) {
	withCIDRs := func(p ovnstate.LogicalSwitchPort, cidrs string) ovnstate.LogicalSwitchPort {
		p.ExternalIDs = map[string]string{"neutron:cidrs": cidrs}
		return p
	}
	st := ovnstate.State{
		Switches: []ovnstate.LogicalSwitch{{Name: "public", Ports: []ovnstate.LogicalSwitchPort{
			localnet("physnet1"),
			withCIDRs(vm("vm1", "fa:16:3e:00:00:01 172.24.4.10 2001:db8:24::10"), "172.24.4.10/24 2001:db8:24::10/64"),
			vm("vm2", "fa:16:3e:00:00:02 2001:db8:24::20"),
			withCIDRs(vm("vm3", "fa:16:3e:00:00:03 2001:db8:25::30"), "2001:db8:25::30/128"),
		}}},
		Bindings: bound(map[string]string{"vm1": "compute-0", "vm2": "compute-0", "vm3": "compute-0"}),
	}
	d, _ := Compute(st, node, Policy{})
	got := map[string]string{}
	for _, e := range d.Exposures {
		got[e.Prefix.String()] = ""
		if e.Wiring.NDPProxy.IsValid() {
			got[e.Prefix.String()] = e.Wiring.NDPProxy.String()
		}
	}
	want := map[string]string{
		"172.24.4.10/32":      "",
		"2001:db8:24::10/128": "2001:db8:24::",
		"2001:db8:24::20/128": "", // no neutron:cidrs
		"2001:db8:25::30/128": "", // a host route is no subnet
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NDP proxies per exposure (-want +got):\n%s", diff)
	}
}
