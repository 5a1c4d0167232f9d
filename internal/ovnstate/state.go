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
	// Bindings are the SB port bindings keyed by logical port name (read-only, persistent:
	// see Bindings). Chassis-redirect ports of router gateways appear as "cr-<router port
	// name>".
	Bindings Bindings
	// BindingsDelta, when not nil, says which entries of Bindings differ from those of an
	// earlier State's bindings: a reader that kept what it derived from those (the same
	// Bindings, Bindings.Same) need only look at these ports. nil: the source does not say.
	BindingsDelta *BindingsDelta
	// NBGlobalExternalIDs is NB_Global's external_ids (neutron:fip-distributed lives there).
	NBGlobalExternalIDs map[string]string
	// LocalBridges are this node's OVS bridges, keyed by name, from the local Open_vSwitch
	// database: the provider bridges' MACs and localnet patch ports the flows need, and the
	// bridges that left ovn-bridge-mappings whose leftovers must be cleaned.
	LocalBridges map[string]LocalBridge
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

// BindingsDelta is how a State's Bindings differ from an earlier map of bindings.
type BindingsDelta struct {
	// From are the earlier bindings (never modified: Bindings are read-only).
	From Bindings
	// Ports are the logical ports whose binding was added, changed or removed since From.
	Ports []string
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
	// Facts are what the node itself needs to reach, gathered outside OVN (kernel, config):
	// the core refuses to expose any prefix that would capture traffic to one of them.
	Facts NodeFacts
}

// NodeFacts are the addresses this node's own traffic depends on. Exposing a prefix that
// contains one of them would put an ip rule ahead of the main table for it (the node's BGP
// session, its OVN connections) and advertise a hijack of it to the fabric.
type NodeFacts struct {
	// Addresses are the node's own addresses outside the agent's NIC, each with the prefix
	// length of its connected network (10.0.0.5/24); host prefixes for addresses whose network
	// must not count as connected (e.g. an address on a provider bridge).
	Addresses []netip.Prefix
	// Peers are the BGP peers' addresses.
	Peers []netip.Addr
	// Endpoints are the OVN and OVS database servers the node connects to (tcp:/ssl: remotes).
	Endpoints []netip.Addr
	// RouterID is the configured BGP router-id; the zero Addr when unset.
	RouterID netip.Addr
}

// LocalBridge is an OVS bridge of this node with what the flow applier needs.
type LocalBridge struct {
	Name    string
	MAC     string       // mac_in_use of the bridge's own internal interface; "" until known
	Patches []LocalPatch // localnet patch ports towards br-int, sorted by name
	// Ifindex is the kernel index of the bridge's own interface: a restarted ovs-vswitchd
	// recreates the bridge with a new one, and without the flows.
	Ifindex int
}

// LocalPatch is a patch port ovn-controller created for a localnet port.
type LocalPatch struct {
	Name     string // patch-<localnet>-to-br-int
	Localnet string // the localnet logical port, from external_ids:ovn-localnet-port
	OFPort   int    // OpenFlow port number; 0 until ovs-vswitchd has assigned one
}

// DBClient is where one of the agent's OVSDB clients is connected and what that server says
// of its own copy of the database (its _Server.Database row), for `status`.
type DBClient struct {
	DB      string   `json:"db"`                // NB, SB or OVS
	Remote  string   `json:"remote"`            // the server in use; "" while (re)connecting
	Remotes []string `json:"remotes,omitempty"` // every server configured
	// Model is standalone, clustered or relay; "" until the server has answered.
	Model string `json:"model,omitempty"`
	// ClusterConnected is the server's own word that it is part of a working cluster
	// (clustered only): a member cut off from the others says false and serves stale data.
	ClusterConnected bool   `json:"cluster_connected"`
	Leader           bool   `json:"leader"`
	Index            int    `json:"index,omitempty"`   // clustered: the last log index the server applied
	Problem          string `json:"problem,omitempty"` // why the client left, or is leaving, the server
	// Left counts the servers the client left because they could not vouch for their data.
	Left uint64 `json:"left"`
}
