// Package frr renders the agent's FRR configuration from a small typed model and applies it
// with frr-reload.py. Per-IP state never appears here: the addresses on the agent's NIC carry
// the prefixes, and FRR redistributes them through one route-map.
package frr

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// RouteMap is the route-map that limits `redistribute connected` to the agent's NIC.
const RouteMap = "ovn-bgp-agent-connected"

// Config is everything the rendered frr.conf depends on, as plain typed data.
type Config struct {
	ASN       uint32
	RouterID  netip.Addr // zero: omit the line and let FRR choose
	NIC       string     // only connected addresses on this interface are redistributed
	VRF       string     // "": no VRF
	Neighbors []Neighbor
	// RedistributeKernel also advertises the agent's kernel routes through the NIC (tenant
	// subnets with the subnet advertisement method), through the same route-map.
	RedistributeKernel bool
}

// Neighbor is one BGP peer of the default instance.
type Neighbor struct {
	Addr     netip.Addr
	RemoteAS uint32
	BFD      bool
}

// ifName is what Linux accepts as a device name (at most 15 bytes), restricted to characters
// that cannot change the meaning of an FRR command line.
var ifName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)

// FromAgentConfig parses the agent configuration into a Config. Every error names the
// configuration key it comes from.
func FromAgentConfig(c config.Config) (Config, error) {
	b := c.BGP
	out := Config{ASN: b.AS, NIC: b.NIC, VRF: b.VRF,
		RedistributeKernel: c.AdvertisementMethodTenantNetworks == "subnet" && (c.ExposeTenantNetworks || c.ExposeIPv6GUATenantNetworks)}
	var errs []error
	if b.RouterID != "" {
		a, err := netip.ParseAddr(b.RouterID)
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp.router_id: must be an IPv4 address, got %q", b.RouterID))
		} else {
			out.RouterID = a
		}
	}
	for i, p := range b.Peers {
		a, err := netip.ParseAddr(p.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp.peers[%d].address: must be an IP address, got %q", i, p.Address))
			continue
		}
		out.Neighbors = append(out.Neighbors, Neighbor{Addr: a, RemoteAS: p.RemoteAS, BFD: p.BFD})
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if err := out.Validate(); err != nil {
		return Config{}, err
	}
	return out, nil
}

// Validate checks every value that reaches the rendered text. Errors use the agent's
// configuration key names, so a user can find the value to fix.
func (c Config) Validate() error {
	var errs []error
	if c.ASN == 0 {
		errs = append(errs, errors.New("bgp.as: must be 1..4294967295, got 0"))
	}
	if c.RouterID.IsValid() {
		if err := checkRouterID(c.RouterID); err != nil {
			errs = append(errs, fmt.Errorf("bgp.router_id: %w", err))
		}
	}
	if !ifName.MatchString(c.NIC) {
		errs = append(errs, fmt.Errorf("bgp.nic: must be an interface name matching %s, got %q", ifName, c.NIC))
	}
	if c.VRF != "" {
		if !ifName.MatchString(c.VRF) {
			errs = append(errs, fmt.Errorf("bgp.vrf: must be empty or a VRF device name matching %s, got %q", ifName, c.VRF))
		} else if c.VRF == "default" {
			// `router bgp ASN vrf default` is the default instance itself.
			errs = append(errs, errors.New(`bgp.vrf: "default" is FRR's default VRF; leave bgp.vrf empty for no VRF`))
		}
	}
	seen := make(map[netip.Addr]int, len(c.Neighbors))
	for i, n := range c.Neighbors {
		key := fmt.Sprintf("bgp.peers[%d]", i)
		if n.Addr.IsValid() {
			key = fmt.Sprintf("bgp.peers[%d] (%s)", i, n.Addr)
		}
		if err := checkPeerAddr(n.Addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: address: %w", key, err))
		} else if j, dup := seen[n.Addr]; dup {
			errs = append(errs, fmt.Errorf("%s: address: duplicate of bgp.peers[%d]", key, j))
		} else {
			seen[n.Addr] = i
		}
		if n.RemoteAS == 0 {
			errs = append(errs, fmt.Errorf("%s: remote_as must be 1..4294967295, got 0", key))
		}
	}
	return errors.Join(errs...)
}

func checkRouterID(a netip.Addr) error {
	switch {
	case !a.Is4():
		return fmt.Errorf("must be an IPv4 address, got %s", a)
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("must be a unicast IPv4 address, got %s", a)
	}
	return nil
}

func checkPeerAddr(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("missing")
	case a.Zone() != "":
		return fmt.Errorf("must not have a zone, got %s", a)
	case a.Is4In6():
		return fmt.Errorf("must be written as IPv4 (%s), got %s", a.Unmap(), a)
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback():
		return fmt.Errorf("must be a unicast address of a remote router, got %s", a)
	case a.Is6() && a.IsLinkLocalUnicast():
		// FRR needs the interface for a link-local peer, which this model does not carry.
		return fmt.Errorf("IPv6 link-local peers are not supported, got %s", a)
	}
	return nil
}
