// Package ovnstate holds the plain data the exposure core reads: what OVN and the local OVS say,
// copied out of the database clients. No client, no I/O: the core depends on this package alone.
package ovnstate

import "net/netip"

// State is the part of the OVN databases the exposure core reads, copied out of the libovsdb
// caches into plain structs: nothing here aliases cache memory or carries libovsdb types.
// With nb_ovn_bgp_driver the topology comes from NB; with ovn_bgp_driver the same shape is
// rebuilt from SB (patch ports as router ports, nat_addresses as NAT rules).
type State struct {
	// Switches are the NB logical switches, with their ports, sorted by name.
	Switches []LogicalSwitch
	// Routers are the NB logical routers, with their ports, NAT rules and load balancers,
	// sorted by name.
	Routers []LogicalRouter
	// Bindings are the SB port bindings keyed by logical port name. Chassis-redirect ports of
	// router gateways appear as "cr-<router port name>".
	Bindings map[string]PortBinding
	// NBGlobalExternalIDs is NB_Global's external_ids (neutron:fip-distributed lives there).
	NBGlobalExternalIDs map[string]string
	// Stale names the databases ("NB", "SB") that were disconnected when the snapshot was
	// taken: their part is the last state known before the outage.
	Stale []string
	// Refused are rows the source could not turn into state (a malformed nat_addresses
	// entry in SB, say). The core reports each as a finding: the source never guesses.
	Refused []Refusal
	// SNATUnknown says the source does not carry the routers' SNAT rules (the Southbound
	// database has none), so a rule that depends on them cannot be decided.
	SNATUnknown bool
}

// Refusal is a source row left out of the state, and why.
type Refusal struct {
	Object  string // e.g. "Port_Binding public-router1"
	Message string
	// Prefixes are the addresses the row names, where they could be read, for explain.
	Prefixes []netip.Prefix
}

// LogicalSwitch is an NB Logical_Switch.
type LogicalSwitch struct {
	UUID        string
	Name        string
	ExternalIDs map[string]string
	Ports       []LogicalSwitchPort
}

// LogicalSwitchPort is an NB Logical_Switch_Port.
type LogicalSwitchPort struct {
	UUID        string
	Name        string
	Type        string
	Addresses   []string // "MAC IP [IP...]", "router", "unknown", "dynamic"
	Options     map[string]string
	ExternalIDs map[string]string
	Tag         int // VLAN of a localnet port; 0 when untagged
}

// LogicalRouter is an NB Logical_Router.
type LogicalRouter struct {
	UUID          string
	Name          string
	ExternalIDs   map[string]string
	Ports         []LogicalRouterPort // sorted by name
	NAT           []NAT               // sorted by type, external IP, logical IP
	LoadBalancers []LoadBalancer      // sorted by name
}

// LogicalRouterPort is an NB Logical_Router_Port.
type LogicalRouterPort struct {
	UUID        string
	Name        string
	MAC         string
	Networks    []string // "IP/plen"
	Options     map[string]string
	ExternalIDs map[string]string
}

// NAT is an NB NAT rule of a router.
type NAT struct {
	UUID        string
	Type        string // dnat_and_snat (floating IPs), snat, dnat
	ExternalIP  string
	ExternalMAC string // "" when unset
	LogicalIP   string
	LogicalPort string // "" when unset
	ExternalIDs map[string]string
}

// LoadBalancer is an NB Load_Balancer attached to a router.
type LoadBalancer struct {
	UUID        string
	Name        string
	VIPs        map[string]string // "IP[:port]" or "[IPv6]:port" → backends
	ExternalIDs map[string]string
}

// PortBinding is an SB Port_Binding: where OVN has bound a logical port.
type PortBinding struct {
	LogicalPort string
	Type        string
	Chassis     string // chassis name; "" when unbound
	// AdditionalChassis are the other chassis a port is bound to during a live migration
	// (requested-chassis lists two); they must not advertise it.
	AdditionalChassis []string
	// RequestedChassis is the chassis northd resolved from the port's requested-chassis
	// option ("" when it has none). It changes before ovn-controller moves the binding, so
	// the node a port is leaving knows before the node it is going to.
	RequestedChassis string
}

// Identity is who this node is in OVN, read from the local Open_vSwitch table.
type Identity struct {
	Chassis        string            // external_ids:system-id
	BridgeMappings map[string]string // physical network name → bridge, from ovn-bridge-mappings
	OVNRemote      string            // external_ids:ovn-remote (the SB connection)
	// IntegrationBridge is ovn-controller's bridge (external_ids:ovn-bridge, default br-int):
	// OVN's flows live there, never the agent's.
	IntegrationBridge string
}
