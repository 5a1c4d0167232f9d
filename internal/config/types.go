// Package config turns a YAML file, OVN_BGP_AGENT_* environment variables and flags into one
// validated, typed Config. Viper does not leak past this package.
package config

import (
	"net/netip"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
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
	Exposure                             Exposure `mapstructure:"exposure"` // bounds and allow-lists (exposure.go)
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

// Upstream ovn-bgp-agent's defaults for the TLS files of its [ovn] section (ovn_sb_private_key,
// ovn_sb_certificate, ovn_sb_ca_cert, and the same for NB).
const (
	UpstreamPrivateKey  = "/etc/pki/tls/private/ovn_bgp_agent.key"
	UpstreamCertificate = "/etc/pki/tls/certs/ovn_bgp_agent.crt"
	UpstreamCACert      = "/etc/ipa/ca.crt"
)

// ForSSL returns t with every file left unset at upstream's default: what an ssl: remote
// uses, as upstream does, so a deployment that relies on the default paths runs unchanged.
func (t TLS) ForSSL() TLS {
	if t.PrivateKey == "" {
		t.PrivateKey = UpstreamPrivateKey
	}
	if t.Certificate == "" {
		t.Certificate = UpstreamCertificate
	}
	if t.CACert == "" {
		t.CACert = UpstreamCACert
	}
	return t
}

// BGP is what the node announces and to whom.
type BGP struct {
	AS         uint32     `mapstructure:"as"`
	RouterID   netip.Addr `mapstructure:"router_id" want:"empty or an IPv4 address"` // zero: FRR chooses
	NIC        string     `mapstructure:"nic"`
	VRF        string     `mapstructure:"vrf"` // "": no VRF
	VRFTableID uint32     `mapstructure:"vrf_table_id"`
	// MaximumPaths and MaximumPathsIBGP are ECMP limits; 0 leaves FRR's default.
	MaximumPaths     uint16 `mapstructure:"maximum_paths"`
	MaximumPathsIBGP uint16 `mapstructure:"maximum_paths_ibgp"`
	MultipathRelax   bool   `mapstructure:"multipath_relax"`
	// Communities and LargeCommunities are set on every prefix the node originates.
	Communities      []Community      `mapstructure:"communities"`
	LargeCommunities []LargeCommunity `mapstructure:"large_communities"`
	// KindCommunities are set, on top of Communities, on the prefixes of one exposure kind.
	KindCommunities []KindCommunities `mapstructure:"kind_communities"`
	BFDProfiles     []BFDProfile      `mapstructure:"bfd_profiles"`
	// PeerGroups are written like peers, with a name instead of an address or interface;
	// a peer joins one with peer_group and then takes its session and policy from it.
	PeerGroups []PeerGroup `mapstructure:"peer_groups"`
	Peers      []Peer      `mapstructure:"peers"`
	// The instance's own options (owned mode; in co-owned mode the operator's file has them).
	GracefulShutdown   bool `mapstructure:"graceful_shutdown"`   // bgp graceful-shutdown
	ExplicitActivation bool `mapstructure:"explicit_activation"` // no bgp default ipv4-unicast
	LogNeighborChanges bool `mapstructure:"log_neighbor_changes"`
	// Timers are the instance's keepalive and hold (timers bgp); peers may override them.
	Timers BGPTimers `mapstructure:"timers"`
	// Networks are operator prefixes announced with `network` statements (when in the RIB).
	Networks []netip.Prefix `mapstructure:"networks" want:"a prefix such as 192.0.2.0/24"`
	// Install limits what zebra installs from BGP into the kernel.
	Install Install `mapstructure:"install"`
	// GracefulRestart is the instance's BGP graceful restart (gracefulrestart.go).
	GracefulRestart GracefulRestart `mapstructure:"graceful_restart"`
}

// BGPTimers are the BGP instance's keepalive and hold in seconds; 0 and 0: FRR's defaults.
type BGPTimers struct {
	Keepalive uint16 `mapstructure:"keepalive"`
	Hold      uint16 `mapstructure:"hold"`
}

// Install says which routes learned over BGP zebra puts into the kernel, and with which
// source address: RHOSO's pure-L3 compute nodes install only the default route, sourced from
// the node's own address (ip protocol bgp route-map ... set src).
type Install struct {
	DefaultOnly bool       `mapstructure:"default_only"`
	SourceIPv4  netip.Addr `mapstructure:"source_ipv4" want:"empty or an IPv4 address of this node"`
	SourceIPv6  netip.Addr `mapstructure:"source_ipv6" want:"empty or an IPv6 address of this node"`
}

// PeerGroup is a named set of peer options (FRR's peer-group): a Peer with Name set and no
// address, interface or peer_group.
type PeerGroup = Peer

// Kinds are the exposure kinds bgp.kind_communities may name: internal/exposure's.
var Kinds = func() []string {
	out := make([]string, len(exposure.Kinds))
	for i, k := range exposure.Kinds {
		out[i] = string(k)
	}
	return out
}()

// KindCommunities are the communities for the prefixes of one exposure kind (one of Kinds).
type KindCommunities struct {
	Kind             string           `mapstructure:"kind"` // one of Kinds
	Communities      []Community      `mapstructure:"communities"`
	LargeCommunities []LargeCommunity `mapstructure:"large_communities"`
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
	Name            string     `mapstructure:"name"`    // a peer group's name; only in bgp.peer_groups
	Address         netip.Addr `mapstructure:"address"` // zero for an interface peer
	Interface       string     `mapstructure:"interface"`
	PeerGroup       string     `mapstructure:"peer_group"` // one of bgp.peer_groups: its options apply
	RemoteAS        RemoteAS   `mapstructure:"remote_as"`
	Description     string     `mapstructure:"description"`
	PasswordFile    string     `mapstructure:"password_file"` // read when frr.conf is rendered
	EBGPMultihop    uint8      `mapstructure:"ebgp_multihop"`
	UpdateSource    string     `mapstructure:"update_source"`
	Timers          Timers     `mapstructure:"timers"`
	ExtendedNexthop bool       `mapstructure:"extended_nexthop"`
	BFD             bool       `mapstructure:"bfd"`
	BFDProfile      string     `mapstructure:"bfd_profile"`
	GracefulRestart string     `mapstructure:"graceful_restart"`  // "", enable, disable, helper
	AddressFamilies []string   `mapstructure:"address_families"`  // ipv4, ipv6; none: the peer's own
	TTLSecurityHops uint8      `mapstructure:"ttl_security_hops"` // 1..254 (GTSM); not with ebgp_multihop
	AllowASIn       AllowASIn  `mapstructure:"allowas_in"`        // origin or 1..10; "": off
	// The peer's policy: prefix filters, and attributes set on what is sent to it. The
	// fields stay flat here because they are flat in the YAML.
	Import           []PrefixFilter   `mapstructure:"import"`
	Export           []PrefixFilter   `mapstructure:"export"`
	LocalPreference  uint32           `mapstructure:"local_preference"`
	Communities      []Community      `mapstructure:"communities"`
	LargeCommunities []LargeCommunity `mapstructure:"large_communities"`
	// Inbound policy beyond the import prefix filter: only routes with one of
	// ImportMatchCommunities are accepted; accepted routes get the local preference and
	// communities set.
	ImportLocalPreference  uint32           `mapstructure:"import_local_preference"`
	ImportCommunities      []Community      `mapstructure:"import_communities"`
	ImportLargeCommunities []LargeCommunity `mapstructure:"import_large_communities"`
	ImportMatchCommunities []Community      `mapstructure:"import_match_communities"`
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
	Action string       `mapstructure:"action"`
	Prefix netip.Prefix `mapstructure:"prefix" want:"a prefix such as 10.0.0.0/8"`
	Ge     uint8        `mapstructure:"ge"`
	Le     uint8        `mapstructure:"le"`
}

// FRR says how to reach and reload the FRR instance next to the agent.
type FRR struct {
	Pathspace     string `mapstructure:"pathspace"` // FRR -N instance name; "" = default instance
	VtySocket     string `mapstructure:"vty_socket"`
	ConfigFile    string `mapstructure:"config_file"`
	ReloadCommand string `mapstructure:"reload_command"`
	// ExtraConfig is an operator's FRR config file appended verbatim to the rendered one.
	ExtraConfig string `mapstructure:"extra_config"`
	// BaseConfig is the operator's own FRR config file (co-owned mode, see frrbase.go): the
	// agent adds only its own part to it. "": the agent renders the whole file.
	BaseConfig string `mapstructure:"base_config"`
	// WatchInterval is how often vtysh is asked whether FRR still runs our config.
	WatchInterval time.Duration `mapstructure:"watch_interval"`
	// DaemonWait bounds how long an apply waits for the FRR daemons it needs to accept vtysh
	// (FRR starting or restarting) before it fails and is retried.
	DaemonWait time.Duration `mapstructure:"daemon_wait"`
	// Log is FRR's own logging target (owned mode).
	Log FRRLog `mapstructure:"log"`
	// NHTResolveViaDefault lets zebra resolve BGP next hops over the default route
	// (ip nht resolve-via-default), as RHOSO's compute nodes need with only a learned default.
	NHTResolveViaDefault bool `mapstructure:"nht_resolve_via_default"`
}

// FRRLog is where FRR's daemons log, and from which level on.
type FRRLog struct {
	Target             string `mapstructure:"target"`              // syslog, stdout or file
	File               string `mapstructure:"file"`                // absolute path, for target file
	Level              string `mapstructure:"level"`               // FRR's level names, e.g. informational
	TimestampPrecision uint8  `mapstructure:"timestamp_precision"` // 0..6 sub-second digits
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
