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
		if err := checkBridgeName(bridge); err != nil {
			return nil, fmt.Errorf("ovn-bridge-mappings: %q: %w", item, err)
		}
		if prev, dup := m[network]; dup && prev != bridge {
			return nil, fmt.Errorf("ovn-bridge-mappings: network %q mapped to both %s and %s", network, prev, bridge)
		}
		m[network] = bridge
	}
	return m, nil
}

// checkBridgeName refuses a bridge name the agent cannot use as a Linux device name. The
// agent writes per-bridge sysctls (net.ipv4.conf.<bridge>.proxy_arp, ...): "all" and
// "default" would change them for every interface of the node, and a name with a slash
// would reach another sysctl file.
func checkBridgeName(name string) error {
	switch {
	case name == "all" || name == "default":
		return fmt.Errorf("bridge name %q is reserved by the kernel's per-interface settings (net.ipv4.conf.%s); rename the bridge", name, name)
	case name == "." || name == "..", len(name) > 15, strings.ContainsAny(name, "/ \t\n\x00"):
		return fmt.Errorf("bridge name %q is not a Linux interface name (at most 15 characters, no '/' or blanks)", name)
	}
	return nil
}
