package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// Exposure bounds what the node exposes, whatever the OVN rows say: a tenant's subnet or a
// floating IP must never take the node's own traffic or the fabric's. (The infrastructure
// guard, which refuses prefixes containing the node's own addresses, peers and databases,
// needs no configuration.)
type Exposure struct {
	// TenantSubnetMinLengthIPv4 and ...IPv6 are the shortest tenant subnets exposed: a
	// shorter one is refused with a finding, and so are its VMs' addresses.
	TenantSubnetMinLengthIPv4 uint8 `mapstructure:"tenant_subnet_min_length_ipv4"`
	TenantSubnetMinLengthIPv6 uint8 `mapstructure:"tenant_subnet_min_length_ipv6"`
	// AllowedPrefixes optionally limits each kind's prefixes to ranges.
	AllowedPrefixes AllowedPrefixes `mapstructure:"allowed_prefixes"`
}

// AllowedPrefixes lists, per exposure kind, the ranges its prefixes must lie in: prefixes
// such as 203.0.113.0/24, or the word "provider" for the subnets of the provider network the
// prefix is reached through (the networks of the router ports on it, from OVN). An empty or
// absent list does not limit the kind.
type AllowedPrefixes struct {
	VM             []string `mapstructure:"vm"`
	FIP            []string `mapstructure:"fip"`
	Gateway        []string `mapstructure:"gateway"`
	Tenant         []string `mapstructure:"tenant"`
	TenantSubnet   []string `mapstructure:"tenant_subnet"`
	LBVIP          []string `mapstructure:"lb_vip"`
	LBFIP          []string `mapstructure:"lb_fip"`
	PortForwarding []string `mapstructure:"port_forwarding"`
}

// AllowedProvider is the allowed_prefixes entry for the provider network's own subnets.
const AllowedProvider = "provider"

// Ranges is one kind's parsed allow-list.
type Ranges struct {
	Prefixes []netip.Prefix
	Provider bool
}

// ByKind returns the limited kinds' ranges, keyed by exposure kind (vm, fip, gateway,
// tenant, tenant-subnet, lb-vip, lb-fip, port-forwarding). A validated Config parses.
func (a AllowedPrefixes) ByKind() map[string]Ranges {
	out := map[string]Ranges{}
	for _, k := range a.lists() {
		if len(k.list) > 0 {
			r, _ := parseRanges(k.list, k.provider)
			out[k.kind] = r
		}
	}
	return out
}

type kindList struct {
	kind, key string
	list      []string
	provider  bool // "provider" makes sense: the kind lies in a provider network
}

func (a AllowedPrefixes) lists() []kindList {
	return []kindList{
		{"vm", "vm", a.VM, true},
		{"fip", "fip", a.FIP, true},
		{"gateway", "gateway", a.Gateway, true},
		{"tenant", "tenant", a.Tenant, false},
		{"tenant-subnet", "tenant_subnet", a.TenantSubnet, false},
		{"lb-vip", "lb_vip", a.LBVIP, true},
		{"lb-fip", "lb_fip", a.LBFIP, true},
		{"port-forwarding", "port_forwarding", a.PortForwarding, true},
	}
}

// parseRanges parses one allow-list; the messages are per entry, indexed like the list.
func parseRanges(list []string, provider bool) (Ranges, map[int]string) {
	var r Ranges
	bad := map[int]string{}
	for i, s := range list {
		s = strings.TrimSpace(s)
		if s == AllowedProvider {
			if !provider {
				bad[i] = "\"provider\" names provider-network subnets; tenant prefixes are never in one"
				continue
			}
			r.Provider = true
			continue
		}
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil || p.Addr().Zone() != "":
			bad[i] = "must be a prefix such as 203.0.113.0/24, or \"provider\""
		case p != p.Masked():
			bad[i] = fmt.Sprintf("must be a network address: %s", p.Masked())
		default:
			r.Prefixes = append(r.Prefixes, p)
		}
	}
	return r, bad
}

func validateExposure(ps *problems, e Exposure) {
	if e.TenantSubnetMinLengthIPv4 < 1 || e.TenantSubnetMinLengthIPv4 > 32 {
		ps.addGot("exposure.tenant_subnet_min_length_ipv4", e.TenantSubnetMinLengthIPv4, "must be 1..32 (/0 is never exposed)")
	}
	if e.TenantSubnetMinLengthIPv6 < 1 || e.TenantSubnetMinLengthIPv6 > 128 {
		ps.addGot("exposure.tenant_subnet_min_length_ipv6", e.TenantSubnetMinLengthIPv6, "must be 1..128 (/0 is never exposed)")
	}
	for _, k := range e.AllowedPrefixes.lists() {
		_, bad := parseRanges(k.list, k.provider)
		for i := range k.list {
			if msg, ok := bad[i]; ok {
				ps.addGot(fmt.Sprintf("exposure.allowed_prefixes.%s[%d]", k.key, i), k.list[i], "%s", msg)
			}
		}
	}
}

// NodeFacts returns the addresses the configuration says this node's own traffic needs: its
// BGP peers, the OVN and OVS databases it connects to (ovnRemote is the local OVS's
// external_ids:ovn-remote, the SB remote when ovn.sb_connection is empty) and the router-id.
// The node's own addresses come from the kernel. Remotes named by host name are left out:
// resolving them here would put DNS in every pass.
func (c Config) NodeFacts(ovnRemote string) ovnstate.NodeFacts {
	var f ovnstate.NodeFacts
	for _, p := range c.BGP.Peers {
		if p.Address.IsValid() {
			f.Peers = append(f.Peers, p.Address.Unmap())
		}
	}
	for _, conn := range []string{c.OVN.NBConnection, c.OVN.SBConnection, c.OVN.OVSConnection, ovnRemote} {
		f.Endpoints = append(f.Endpoints, RemoteAddrs(conn)...)
	}
	f.RouterID = c.BGP.RouterID
	return f
}

// RemoteAddrs returns the IP addresses of the tcp: and ssl: remotes in an OVSDB connection
// string ("tcp:192.0.2.1:6641,ssl:[2001:db8::1]:6642"); unix: remotes and host names have none.
func RemoteAddrs(conn string) []netip.Addr {
	var out []netip.Addr
	for _, r := range strings.Split(conn, ",") {
		r = strings.TrimSpace(r)
		var rest string
		switch {
		case strings.HasPrefix(r, "tcp:"), strings.HasPrefix(r, "ssl:"):
			rest = r[4:]
		default:
			continue
		}
		if ap, err := netip.ParseAddrPort(rest); err == nil {
			out = append(out, ap.Addr().Unmap())
			continue
		}
		// OVSDB allows the port to be left out (tcp:IP, ssl:[IPv6]).
		if a, err := netip.ParseAddr(strings.Trim(rest, "[]")); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// ExposurePolicy is the core's policy: the upstream-named tenant options, the bounds and the
// allow-lists.
func (c Config) ExposurePolicy() exposure.Policy {
	allowed := map[exposure.Kind]exposure.Allowed{}
	for k, r := range c.Exposure.AllowedPrefixes.ByKind() {
		allowed[exposure.Kind(k)] = exposure.Allowed{Prefixes: r.Prefixes, Provider: r.Provider}
	}
	return exposure.Policy{
		TenantNetworks:        c.ExposeTenantNetworks,
		IPv6GUATenantNetworks: c.ExposeIPv6GUATenantNetworks,
		TenantMethod:          exposure.TenantMethod(c.AdvertisementMethodTenantNetworks),
		AddressScopes:         c.AddressScopes,
		RequireSNATDisabled:   c.RequireSNATDisabledForTenantNetworks,
		Bounds: exposure.Bounds{MinIPv4: int(c.Exposure.TenantSubnetMinLengthIPv4),
			MinIPv6: int(c.Exposure.TenantSubnetMinLengthIPv6)},
		Allowed: allowed,
	}
}
