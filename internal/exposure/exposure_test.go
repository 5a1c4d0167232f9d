package exposure

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

var node = ovnstate.Identity{Chassis: "compute-0", BridgeMappings: map[string]string{"physnet1": "br-ex"}}

func localnet(network string) ovnstate.LogicalSwitchPort {
	return ovnstate.LogicalSwitchPort{Name: "provnet-" + network, Type: "localnet", Addresses: []string{"unknown"},
		Options: map[string]string{"network_name": network}}
}

func vm(name string, addrs ...string) ovnstate.LogicalSwitchPort {
	return ovnstate.LogicalSwitchPort{Name: name, Addresses: addrs}
}

func bound(ports map[string]string) ovnstate.Bindings {
	m := map[string]ovnstate.PortBinding{}
	for p, ch := range ports {
		m[p] = ovnstate.PortBinding{LogicalPort: p, Chassis: ch}
	}
	return ovnstate.NewBindings(m)
}

func TestComputeProviderVMPorts(t *testing.T) {
	public := func(ports ...ovnstate.LogicalSwitchPort) ovnstate.LogicalSwitch {
		return ovnstate.LogicalSwitch{Name: "public", Ports: append([]ovnstate.LogicalSwitchPort{localnet("physnet1")}, ports...)}
	}
	tests := []struct {
		name     string
		state    ovnstate.State
		want     []string
		findings []string
	}{
		{
			name: "bound here, v4 and v6",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{public(vm("vm1", "fa:16:3e:00:00:01 172.24.4.10 2001:db8::10"))},
				Bindings: bound(map[string]string{"vm1": "compute-0"}),
			},
			want: []string{"172.24.4.10", "2001:db8::10"},
		},
		{
			name: "bound to another chassis",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{public(vm("vm1", "fa:16:3e:00:00:01 172.24.4.10"))},
				Bindings: bound(map[string]string{"vm1": "compute-1"}),
			},
		},
		{
			name: "unbound and without a binding row",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{public(vm("vm1", "fa:16:3e:00:00:01 172.24.4.10"), vm("vm2", "fa:16:3e:00:00:02 172.24.4.11"))},
				Bindings: bound(map[string]string{"vm1": ""}),
			},
		},
		{
			name: "tenant network (no localnet) is not exposed",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{{Name: "private", Ports: []ovnstate.LogicalSwitchPort{vm("vm1", "fa:16:3e:00:00:01 10.0.0.5")}}},
				Bindings: bound(map[string]string{"vm1": "compute-0"}),
			},
		},
		{
			name: "provider network not mapped on this node",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{{Name: "other", Ports: []ovnstate.LogicalSwitchPort{localnet("physnet9"), vm("vm1", "fa:16:3e:00:00:01 172.25.0.5")}}},
				Bindings: bound(map[string]string{"vm1": "compute-0"}),
			},
		},
		{
			name: "router and localnet ports are not VM ports",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{public(ovnstate.LogicalSwitchPort{Name: "rp", Type: "router", Addresses: []string{"router"}})},
				Bindings: bound(map[string]string{"rp": "compute-0", "provnet-physnet1": "compute-0"}),
			},
		},
		{
			name: "malformed addresses: the good ones survive, the bad part is reported",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{public(
					vm("vm1", "fa:16:3e:00:00:01 172.24.4.10 999.1.1.1"),
					vm("vm2", "not-a-mac 172.24.4.11"),
					vm("vm3", "fa:16:3e:00:00:03 172.24.4.12"))},
				Bindings: bound(map[string]string{"vm1": "compute-0", "vm2": "compute-0", "vm3": "compute-0"}),
			},
			want: []string{"172.24.4.10", "172.24.4.12"},
			findings: []string{
				`Logical_Switch_Port vm1: malformed addresses: "999.1.1.1" is not a unicast IP address`,
				`Logical_Switch_Port vm2: malformed addresses: "not-a-mac 172.24.4.11" does not start with a MAC address`,
			},
		},
		{
			name: "same address on two ports is advertised once and reported",
			state: ovnstate.State{
				Switches: []ovnstate.LogicalSwitch{public(vm("vm1", "fa:16:3e:00:00:01 172.24.4.10"), vm("vm2", "fa:16:3e:00:00:02 172.24.4.10"))},
				Bindings: bound(map[string]string{"vm1": "compute-0", "vm2": "compute-0"}),
			},
			want:     []string{"172.24.4.10"},
			findings: []string{"Logical_Switch_Port vm2: prefix 172.24.4.10/32 is also claimed by Logical_Switch_Port vm1; advertised once"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, findings := Compute(tt.state, node, Policy{})
			var got []string
			for _, a := range d.Addrs() {
				got = append(got, a.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("exposed addresses (-want +got):\n%s", diff)
			}
			var gotF []string
			for _, f := range findings {
				gotF = append(gotF, f.String())
			}
			if diff := cmp.Diff(tt.findings, gotF); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, e := range d.Exposures {
				if e.Kind != KindVM || !strings.Contains(e.Reason, strings.TrimPrefix(e.Object, "Logical_Switch_Port ")) || e.Wiring.Bridge != "br-ex" {
					t.Errorf("exposure %+v: want kind vm, a reason naming the port and bridge br-ex", e)
				}
			}
		})
	}
}

func TestComputeIsDeterministic(t *testing.T) {
	st := ovnstate.State{
		Switches: []ovnstate.LogicalSwitch{{Name: "public", Ports: []ovnstate.LogicalSwitchPort{
			localnet("physnet1"), vm("b", "fa:16:3e:00:00:02 172.24.4.20"), vm("a", "fa:16:3e:00:00:01 172.24.4.10")}}},
		Bindings: bound(map[string]string{"a": "compute-0", "b": "compute-0"}),
	}
	first, _ := Compute(st, node, Policy{})
	for i := 0; i < 20; i++ {
		again, _ := Compute(st, node, Policy{})
		if diff := cmp.Diff(first, again, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Fatalf("second compute differs:\n%s", diff)
		}
	}
}

func TestPortIPs(t *testing.T) {
	got, err := PortIPs([]string{"router", "unknown", "dynamic", "FA:16:3E:00:00:01 10.0.0.1/24 fe80::1 2001:db8::1", ""})
	if err == nil || !strings.Contains(err.Error(), `"fe80::1"`) {
		t.Errorf("want an error naming the link-local address, got %v", err)
	}
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzPortIPs(f *testing.F) {
	for _, s := range []string{"fa:16:3e:00:00:01 172.24.4.10 2001:db8::10", "router", "unknown", "zz:zz 1.2.3.4", "fa:16:3e:00:00:01 ::ffff:1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, _ := PortIPs([]string{s})
		for _, a := range addrs {
			if !a.IsValid() || !a.IsGlobalUnicast() || a.Is4In6() {
				t.Fatalf("PortIPs(%q) returned %v", s, a)
			}
		}
	})
}
