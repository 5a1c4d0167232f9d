package ovn

import (
	"fmt"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// identityFrom reads the node identity from Open_vSwitch external_ids. A missing system-id is an
// error: without it the agent cannot tell which ports are bound here.
func identityFrom(ext map[string]string) (ovnstate.Identity, error) {
	id := ovnstate.Identity{
		Chassis:           ext["system-id"],
		OVNRemote:         ext["ovn-remote"],
		IntegrationBridge: ext["ovn-bridge"],
	}
	if id.IntegrationBridge == "" {
		id.IntegrationBridge = "br-int" // ovn-controller's default
	}
	if id.Chassis == "" {
		return id, fmt.Errorf("local Open_vSwitch has no external_ids:system-id: is ovn-controller configured on this node?")
	}
	m, err := ParseBridgeMappings(ext["ovn-bridge-mappings"])
	if err != nil {
		return id, err
	}
	id.BridgeMappings = m
	return id, nil
}

// ParseBridgeMappings parses "physnet1:br-ex,physnet2:br-vlan".
func ParseBridgeMappings(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		network, bridge, ok := strings.Cut(item, ":")
		network, bridge = strings.TrimSpace(network), strings.TrimSpace(bridge)
		if !ok || network == "" || bridge == "" {
			return nil, fmt.Errorf("ovn-bridge-mappings: %q is not network:bridge", item)
		}
		if prev, dup := m[network]; dup && prev != bridge {
			return nil, fmt.Errorf("ovn-bridge-mappings: network %q mapped to both %s and %s", network, prev, bridge)
		}
		m[network] = bridge
	}
	return m, nil
}
