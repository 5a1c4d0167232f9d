// Package config turns a YAML file, OVN_BGP_AGENT_* environment variables and flags into one
// validated, typed Config. Viper does not leak past this package.
package config

import (
	"net/netip"
	"time"
)

// Config is the agent's whole configuration after defaults, overrides and validation.
type Config struct {
	Driver            string        `mapstructure:"driver"`
	ReconcileInterval time.Duration `mapstructure:"reconcile_interval"`
	// The exposure policy keeps upstream ovn-bgp-agent's option names, so operators find them.
	ExposeTenantNetworks                 bool     `mapstructure:"expose_tenant_networks"`
	ExposeIPv6GUATenantNetworks          bool     `mapstructure:"expose_ipv6_gua_tenant_networks"`
	AdvertisementMethodTenantNetworks    string   `mapstructure:"advertisement_method_tenant_networks"` // host or subnet
	AddressScopes                        []string `mapstructure:"address_scopes"`                       // empty: every scope
	RequireSNATDisabledForTenantNetworks bool     `mapstructure:"require_snat_disabled_for_tenant_networks"`
	OVN                                  OVN      `mapstructure:"ovn"`
	BGP                                  BGP      `mapstructure:"bgp"`
	FRR                                  FRR      `mapstructure:"frr"`
	Kernel                               Kernel   `mapstructure:"kernel"`
	Log                                  Log      `mapstructure:"log"`
	Metrics                              Metrics  `mapstructure:"metrics"`
}

// OVN says where the databases are. Each connection is a comma-separated list of remotes.
type OVN struct {
	NBConnection  string `mapstructure:"nb_connection"`
	SBConnection  string `mapstructure:"sb_connection"` // "": the local OVS external_ids:ovn-remote
	OVSConnection string `mapstructure:"ovs_connection"`
	NBTLS         TLS    `mapstructure:"nb_tls"` // for ssl: remotes
	SBTLS         TLS    `mapstructure:"sb_tls"`
}

// TLS is a client's key pair and the CA that signs the server, as PEM files. The files are
// read at every connection, so certificates renewed in place are picked up on reconnect.
type TLS struct {
	PrivateKey  string `mapstructure:"private_key"`
	Certificate string `mapstructure:"certificate"`
	CACert      string `mapstructure:"ca_cert"`
}

// Set reports whether any file is configured.
func (t TLS) Set() bool { return t.PrivateKey != "" || t.Certificate != "" || t.CACert != "" }

// BGP is what the node announces and to whom.
type BGP struct {
	AS         uint32 `mapstructure:"as"`
	RouterID   string `mapstructure:"router_id"` // "" or an IPv4 address
	NIC        string `mapstructure:"nic"`
	VRF        string `mapstructure:"vrf"` // "": no VRF
	VRFTableID uint32 `mapstructure:"vrf_table_id"`
	// MaximumPaths and MaximumPathsIBGP are ECMP limits; 0 leaves FRR's default.
	MaximumPaths     uint16 `mapstructure:"maximum_paths"`
	MaximumPathsIBGP uint16 `mapstructure:"maximum_paths_ibgp"`
	MultipathRelax   bool   `mapstructure:"multipath_relax"`
	// Communities and LargeCommunities are set on every prefix the node originates.
	Communities      []string `mapstructure:"communities"`
	LargeCommunities []string `mapstructure:"large_communities"`
	// KindCommunities are set, on top of Communities, on the prefixes of one exposure kind.
	KindCommunities []KindCommunities `mapstructure:"kind_communities"`
	BFDProfiles     []BFDProfile      `mapstructure:"bfd_profiles"`
	Peers           []Peer            `mapstructure:"peers"`
	GracefulRestart GracefulRestart   `mapstructure:"graceful_restart"` // gracefulrestart.go
}

// KindCommunities are the communities for the prefixes of one exposure kind (vm, fip,
// gateway, tenant, tenant-subnet, lb-vip, lb-fip, port-forwarding).
type KindCommunities struct {
	Kind             string   `mapstructure:"kind"`
	Communities      []string `mapstructure:"communities"`
	LargeCommunities []string `mapstructure:"large_communities"`
}

// BFDProfile is a named set of BFD timers peers can refer to. Zero values are FRR's defaults.
type BFDProfile struct {
	Name             string `mapstructure:"name"`
	DetectMultiplier uint8  `mapstructure:"detect_multiplier"`
	ReceiveInterval  uint32 `mapstructure:"receive_interval"`  // milliseconds
	TransmitInterval uint32 `mapstructure:"transmit_interval"` // milliseconds
	Echo             bool   `mapstructure:"echo"`
	Passive          bool   `mapstructure:"passive"`
}

// Peer is one BGP neighbour, typically a ToR switch: by address, or by interface (unnumbered).
type Peer struct {
	Address         string   `mapstructure:"address"`
	Interface       string   `mapstructure:"interface"`
	RemoteAS        RemoteAS `mapstructure:"remote_as"`
	Description     string   `mapstructure:"description"`
	PasswordFile    string   `mapstructure:"password_file"` // read when frr.conf is rendered
	EBGPMultihop    uint8    `mapstructure:"ebgp_multihop"`
	UpdateSource    string   `mapstructure:"update_source"`
	Timers          Timers   `mapstructure:"timers"`
	ExtendedNexthop bool     `mapstructure:"extended_nexthop"`
	BFD             bool     `mapstructure:"bfd"`
	BFDProfile      string   `mapstructure:"bfd_profile"`
	GracefulRestart string   `mapstructure:"graceful_restart"` // "", enable, disable, helper
	AddressFamilies []string `mapstructure:"address_families"` // ipv4, ipv6; none: the peer's own
	// The peer's policy: prefix filters, and attributes set on what is sent to it. The
	// fields stay flat here because they are flat in the YAML.
	Import           []PrefixFilter `mapstructure:"import"`
	Export           []PrefixFilter `mapstructure:"export"`
	LocalPreference  uint32         `mapstructure:"local_preference"`
	Communities      []string       `mapstructure:"communities"`
	LargeCommunities []string       `mapstructure:"large_communities"`
}

// Timers are BGP timers in seconds; 0 leaves FRR's default.
type Timers struct {
	Keepalive uint16 `mapstructure:"keepalive"`
	Hold      uint16 `mapstructure:"hold"`
	Connect   uint16 `mapstructure:"connect"`
}

// PrefixFilter is one prefix-list entry: action (permit, the default, or deny), a prefix,
// and optional ge/le prefix lengths.
type PrefixFilter struct {
	Action string `mapstructure:"action"`
	Prefix string `mapstructure:"prefix"`
	Ge     uint8  `mapstructure:"ge"`
	Le     uint8  `mapstructure:"le"`
}

// RemoteAS is a peer's AS: a number 1..4294967295, "internal" or "external". The YAML may
// write the number bare.
type RemoteAS string

// FRR says how to reach and reload the FRR instance next to the agent.
type FRR struct {
	Pathspace     string `mapstructure:"pathspace"` // FRR -N instance name; "" = default instance
	VtySocket     string `mapstructure:"vty_socket"`
	ConfigFile    string `mapstructure:"config_file"`
	ReloadCommand string `mapstructure:"reload_command"`
	// ExtraConfig is an operator's FRR config file appended verbatim to the rendered one.
	ExtraConfig string `mapstructure:"extra_config"`
	// WatchInterval is how often vtysh is asked whether FRR still runs our config.
	WatchInterval time.Duration `mapstructure:"watch_interval"`
}

// Kernel says how the agent marks the routing state it owns, so that it never touches anyone
// else's: its ip rules sit at RulePriority, its routes carry RouteProtocol (so do its permanent
// neighbours and NDP proxy entries) and live in the provider-bridge tables BridgeTableBase ..
// BridgeTableBase+BridgeTableCount-1, one per provider bridge in name order.
type Kernel struct {
	RulePriority    uint32 `mapstructure:"rule_priority"`
	RouteProtocol   uint32 `mapstructure:"route_protocol"`
	BridgeTableBase uint32 `mapstructure:"bridge_table_base"`
}

// BridgeTableCount is how many routing tables, from kernel.bridge_table_base on, the agent
// owns: at most that many provider bridges per node.
const BridgeTableCount = 256

// Log selects the log format and level.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // text or json
}

// Metrics says where the agent serves /metrics, /healthz, /readyz and /status (read by
// `ovn-bgp-agent status`).
type Metrics struct {
	// Listen is HOST:PORT; "" serves nothing. The default is loopback only: status is for
	// the pod itself, and a scrape through the pod network needs the address set explicitly.
	Listen string `mapstructure:"listen"`
}

// RouterIDAddr returns the router-id as an address; the zero Addr when unset.
func (b BGP) RouterIDAddr() netip.Addr {
	a, _ := netip.ParseAddr(b.RouterID)
	return a
}

// PeerAddr returns the peer's address; validation guarantees it parses.
func (p Peer) PeerAddr() netip.Addr {
	a, _ := netip.ParseAddr(p.Address)
	return a
}
