package reconcile

import (
	"slices"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

func TestRetiredBridges(t *testing.T) {
	p := Plan{
		Desired:      exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}}},
		Node:         ovnstate.Identity{IntegrationBridge: "br-int"},
		LocalBridges: map[string]ovnstate.LocalBridge{"br-ex": {}, "br-int": {}, "br-old": {}, "br-phy": {}, "br-vlan": {}},
	}
	if got, want := p.RetiredBridges(), []string{"br-old", "br-phy", "br-vlan"}; !slices.Equal(got, want) {
		t.Errorf("RetiredBridges = %v, want %v (never the provider or the integration bridge)", got, want)
	}
}
