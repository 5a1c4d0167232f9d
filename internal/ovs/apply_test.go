package ovs

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

func TestFlowBridges(t *testing.T) {
	p := reconcile.Plan{
		Desired: exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}, {Name: "br-new"}}},
		LocalBridges: map[string]ovnstate.LocalBridge{
			"br-ex": {Name: "br-ex", MAC: "02:00:00:00:00:01", Patches: []ovnstate.LocalPatch{
				{Name: "patch-a-to-br-int", OFPort: 2},
				{Name: "patch-b-to-br-int"}, // no ofport yet
			}},
			"br-int": {Name: "br-int"}, // not a provider bridge
		},
	}
	want := []Bridge{
		{Name: "br-ex", MAC: "02:00:00:00:00:01", Patches: []int{2}},
		{Name: "br-new"}, // not in OVS yet: the applier waits
	}
	if d := cmp.Diff(want, FlowBridges(p)); d != "" {
		t.Errorf("FlowBridges (-want +got):\n%s", d)
	}
}
