package main

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovs"
)

func TestFlowBridges(t *testing.T) {
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}, {Name: "br-new"}}}
	local := map[string]ovn.LocalBridge{
		"br-ex": {Name: "br-ex", MAC: "02:00:00:00:00:01", Patches: []ovn.LocalPatch{
			{Name: "patch-a-to-br-int", OFPort: 2},
			{Name: "patch-b-to-br-int"}, // no ofport yet
		}},
		"br-int": {Name: "br-int"}, // not a provider bridge
	}
	want := []ovs.Bridge{
		{Name: "br-ex", MAC: "02:00:00:00:00:01", Patches: []int{2}},
		{Name: "br-new"}, // not in OVS yet: the applier waits
	}
	if d := cmp.Diff(want, flowBridges(d, local)); d != "" {
		t.Errorf("flowBridges (-want +got):\n%s", d)
	}
}

func TestRetiredBridges(t *testing.T) {
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}}}
	local := map[string]ovn.LocalBridge{"br-ex": {}, "br-int": {}, "br-old": {}, "br-phy": {}, "br-vlan": {}}
	got := retiredBridges(d, local, "br-int")
	if want := []string{"br-old", "br-phy", "br-vlan"}; !slices.Equal(got, want) {
		t.Errorf("retiredBridges = %v, want %v (never the provider or the integration bridge)", got, want)
	}
}
