// Package frr renders the agent's FRR configuration from a typed model and applies it with
// frr-reload.py. Per-IP state never appears here: the addresses on the agent's NIC carry
// the prefixes, and FRR redistributes them through one route-map.
package frr

import (
	"net/netip"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// RouteMap is the route-map that limits `redistribute connected` to the agent's NIC.
const RouteMap = "ovn-bgp-agent-connected"

// OriginatedList is the as-path access-list that lets only the node's own routes (empty AS
// path) out to every peer: export is default-deny, a node is never a transit path.
const OriginatedList = "ovn-bgp-agent-originated"

// Config is everything the rendered frr.conf depends on, as plain typed data. A zero value
// in an optional field means "leave FRR's default", and the line is not rendered. The values
// come validated from internal/config (FromAgentConfig); Render only guards against values
// that would break the text itself.
type Config struct {
	ASN       uint32
	RouterID  netip.Addr // zero: omit the line and let FRR choose
	NIC       string     // only connected addresses on this interface are redistributed
	VRF       string     // "": no VRF
	Multipath Multipath
	// Communities are set on every prefix the node originates (on the redistribute route-map).
	Communities Communities
	// KindCommunities are added to Communities on the prefixes of one exposure kind; the
	// kernel side marks them with KindMetric (see kinds.go).
	KindCommunities []KindCommunities
	BFDProfiles     []BFDProfile
	// PeerGroups are peer groups (Neighbor with Group set); Neighbors join one with PeerGroup.
	PeerGroups []Neighbor
	Neighbors  []Neighbor
	Instance   Instance       // the instance's own options (peers.go)
	Networks   []netip.Prefix // operator prefixes: `network` statements
	Install    Install        // what zebra installs from BGP
	Log        Log            // FRR's log target
	// NHTResolveViaDefault: ip nht resolve-via-default.
	NHTResolveViaDefault bool
	// GracefulRestart is the instance's BGP graceful restart; zero: off, FRR's timers.
	GracefulRestart GracefulRestart
	// RedistributeKernel also advertises the agent's kernel routes through the NIC (tenant
	// subnets with the subnet advertisement method), through the same route-map.
	RedistributeKernel bool
	// ExtraConfig is the operator's FRR text, appended verbatim after the rendered config.
	// frr-reload.py --test checks the whole file before anything is applied.
	ExtraConfig string
}

// GracefulRestart turns on BGP graceful restart for the default instance. Zero times are
// FRR's defaults (restart 120 s, stale path 360 s) and are never rendered.
type GracefulRestart struct {
	Enabled                    bool
	RestartTime, StalePathTime uint16 // seconds
}

// Multipath is ECMP for routes learned from several peers.
type Multipath struct {
	EBGP  uint16 // maximum-paths; 0 = FRR's default (MaxPathsDefault)
	IBGP  uint16 // maximum-paths ibgp; 0 = FRR's default (MaxPathsDefault)
	Relax bool   // bgp bestpath as-path multipath-relax
}

// MaxPathsDefault is FRR 8.4's maximum-paths default on Debian (its MULTIPATH_NUM): FRR never
// prints it, so it is never rendered either.
const MaxPathsDefault = config.MaxPaths

// Communities are BGP communities to set on advertised routes.
type Communities struct {
	Standard []config.Community
	Large    []config.LargeCommunity
}

// Empty reports whether no community is set.
func (c Communities) Empty() bool { return len(c.Standard) == 0 && len(c.Large) == 0 }

// BFDProfile is a named set of BFD timers. Zero fields are FRR's defaults.
type BFDProfile struct {
	Name             string
	DetectMultiplier uint8  // 0 = FRR's 3
	ReceiveInterval  uint32 // milliseconds; 0 = FRR's 300
	TransmitInterval uint32 // milliseconds; 0 = FRR's 300
	Echo             bool
	Passive          bool
}

// BFD defaults of FRR 8.4: never rendered.
const (
	bfdDefaultMultiplier = 3
	bfdDefaultInterval   = 300
)

// Graceful-restart defaults of FRR 8.4: never rendered.
const (
	grDefaultRestart   = 120
	grDefaultStalePath = 360
)

// RemoteAS is a peer's AS: a number, or Internal/External for "the same as ours" and "any
// other". Exactly one of ASN and Kind is set.
type RemoteAS = config.RemoteAS

// Remote-as keywords.
const (
	Internal = config.RemoteASInternal
	External = config.RemoteASExternal
)

// Neighbor is one BGP peer of the default instance, by address or by interface (unnumbered).
type Neighbor struct {
	Group           string     // a peer group's name: then neither Addr nor Interface
	Addr            netip.Addr // exactly one of Addr and Interface
	Interface       string
	PeerGroup       string // the group this peer takes its options from; then only Description
	RemoteAS        RemoteAS
	Description     string
	Password        string // secret: read from the peer's password_file, never logged
	EBGPMultihop    uint8  // 0: off
	UpdateSource    string // an address or an interface name; "": FRR's choice
	Timers          Timers
	ExtendedNexthop bool // always on for interface peers, so only rendered for address peers
	BFD             BFD
	GracefulRestart string   // "", GREnable, GRDisable or GRHelper
	Families        []Family // nil: the family of Addr, or both for an interface peer or group
	TTLSecurityHops uint8    // 0: off
	AllowASIn       AllowASIn
	Policy          Policy
}

// Timers are BGP session timers in seconds; zero Keepalive and Hold (together) or zero
// Connect leave FRR's defaults.
type Timers struct {
	Keepalive, Hold, Connect uint16
}

// BFD turns BFD on for a peer, optionally with a named profile.
type BFD struct {
	Enabled bool
	Profile string
}

// Graceful restart modes of a peer.
const (
	GREnable  = "enable"
	GRDisable = "disable"
	GRHelper  = "helper"
)

// Family is an address family a peer is activated in.
type Family string

// The unicast families.
const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

// Policy is what a peer accepts and how the node's routes are sent to it.
type Policy struct {
	// Import and Export are prefix filters. nil: no filter. Non-nil: only what a rule
	// permits passes (per family; a family without rules passes nothing).
	Import, Export  []PrefixRule
	LocalPreference uint32 // set on routes sent to the peer (iBGP); 0: not set
	Communities     Communities
	// Inbound: only routes with one of ImportMatch (if any) are accepted, and get
	// ImportLocalPreference (0: not set) and ImportCommunities added.
	ImportMatch           []config.Community
	ImportLocalPreference uint32
	ImportCommunities     Communities
}

// PrefixRule is one prefix-list entry. Ge and Le are 0 when unset.
type PrefixRule struct {
	Deny   bool
	Prefix netip.Prefix
	Ge, Le uint8
}

// Name is how FRR names the peer in `neighbor NAME ...` lines.
func (n Neighbor) Name() string {
	if n.Group != "" {
		return n.Group
	}
	if n.Interface != "" {
		return n.Interface
	}
	return n.Addr.String()
}

// Active reports whether the peer is activated in family f.
func (n Neighbor) Active(f Family) bool {
	if n.Families == nil {
		if n.Interface != "" || n.Group != "" {
			return true
		}
		return (f == IPv4) == n.Addr.Is4()
	}
	for _, g := range n.Families {
		if g == f {
			return true
		}
	}
	return false
}
