package ovn

// State is the part of the OVN databases the exposure core reads, copied out of the libovsdb
// caches into plain structs: nothing here aliases cache memory or carries libovsdb types.
type State struct {
	// Switches are the NB logical switches, with their ports.
	Switches []LogicalSwitch
	// Bindings are the SB port bindings keyed by logical port name.
	Bindings map[string]PortBinding
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
}

// PortBinding is an SB Port_Binding: where OVN has bound a logical port.
type PortBinding struct {
	LogicalPort string
	Type        string
	Chassis     string // chassis name; "" when unbound
}

// Identity is who this node is in OVN, read from the local Open_vSwitch table.
type Identity struct {
	Chassis        string            // external_ids:system-id
	BridgeMappings map[string]string // physical network name → bridge, from ovn-bridge-mappings
	OVNRemote      string            // external_ids:ovn-remote (the SB connection)
}
