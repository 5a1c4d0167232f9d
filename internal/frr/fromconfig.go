package frr

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// FromAgentConfig parses the agent configuration into a Config, reading the peers' password
// files and the operator's extra config file. Call it for every render, so that a rotated
// password or an edited extra config is picked up. Every error names the configuration key
// it comes from; a password never appears in one.
func FromAgentConfig(c config.Config) (Config, error) {
	b := c.BGP
	out := Config{
		ASN: b.AS, NIC: b.NIC, VRF: b.VRF,
		Multipath:   Multipath{EBGP: b.MaximumPaths, IBGP: b.MaximumPathsIBGP, Relax: b.MultipathRelax},
		Communities: Communities{Standard: b.Communities, Large: b.LargeCommunities},
		RedistributeKernel: c.AdvertisementMethodTenantNetworks == "subnet" &&
			(c.ExposeTenantNetworks || c.ExposeIPv6GUATenantNetworks),
		GracefulRestart: GracefulRestart{Enabled: b.GracefulRestart.Enabled,
			RestartTime: b.GracefulRestart.RestartTime, StalePathTime: b.GracefulRestart.StalePathTime},
	}
	var errs []error
	reported := []string{} // keys with a parse error: their checks below would only repeat it
	if b.RouterID != "" {
		a, err := netip.ParseAddr(b.RouterID)
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp.router_id: must be an IPv4 address, got %q", b.RouterID))
			reported = append(reported, "bgp.router_id")
		} else {
			out.RouterID = a
		}
	}
	for _, k := range b.KindCommunities {
		out.KindCommunities = append(out.KindCommunities, KindCommunities{
			Kind: exposure.Kind(k.Kind), Communities: Communities{Standard: k.Communities, Large: k.LargeCommunities},
		})
	}
	for _, p := range b.BFDProfiles {
		out.BFDProfiles = append(out.BFDProfiles, BFDProfile{
			Name: p.Name, DetectMultiplier: p.DetectMultiplier, ReceiveInterval: p.ReceiveInterval,
			TransmitInterval: p.TransmitInterval, Echo: p.Echo, Passive: p.Passive,
		})
	}
	for i, p := range b.Peers {
		key := fmt.Sprintf("bgp.peers[%d]", i)
		// Kept even when partly unparsable, so every peer's problems are reported at once,
		// under its own index.
		n, err := neighborFromConfig(key, p)
		if err != nil {
			errs = append(errs, err)
			reported = append(reported, key+".")
		}
		out.Neighbors = append(out.Neighbors, n)
	}
	if path := c.FRR.ExtraConfig; path != "" {
		text, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("frr.extra_config: %w", err))
		}
		out.ExtraConfig = string(text)
	}
	for _, err := range out.problems() {
		if !slices.ContainsFunc(reported, func(k string) bool { return strings.HasPrefix(err.Error(), k) }) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return out, nil
}

func neighborFromConfig(key string, p config.Peer) (Neighbor, error) {
	var errs []error
	n := Neighbor{
		Interface:       p.Interface,
		Description:     p.Description,
		EBGPMultihop:    p.EBGPMultihop,
		UpdateSource:    p.UpdateSource,
		Timers:          Timers{Keepalive: p.Timers.Keepalive, Hold: p.Timers.Hold, Connect: p.Timers.Connect},
		ExtendedNexthop: p.ExtendedNexthop,
		BFD:             BFD{Enabled: p.BFD || p.BFDProfile != "", Profile: p.BFDProfile},
		GracefulRestart: p.GracefulRestart,
		Policy: Policy{
			LocalPreference: p.LocalPreference,
			Communities:     Communities{Standard: p.Communities, Large: p.LargeCommunities},
		},
	}
	if p.Address != "" {
		a, err := netip.ParseAddr(p.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.address: must be an IP address, got %q", key, p.Address))
		}
		n.Addr = a.Unmap()
	}
	switch s := string(p.RemoteAS); s {
	case Internal, External:
		n.RemoteAS.Kind = s
	default:
		asn, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.remote_as: must be 1..4294967295, internal or external, got %q", key, s))
		}
		n.RemoteAS.ASN = uint32(asn)
	}
	if len(p.AddressFamilies) > 0 { // an empty list is no list, as everywhere in the config
		n.Families = []Family{}
		for _, f := range p.AddressFamilies {
			n.Families = append(n.Families, Family(f))
		}
	}
	var err error
	if n.Policy.Import, err = rulesFromConfig(key+".import", p.Import); err != nil {
		errs = append(errs, err)
	}
	if n.Policy.Export, err = rulesFromConfig(key+".export", p.Export); err != nil {
		errs = append(errs, err)
	}
	if p.PasswordFile != "" {
		pw, err := readPassword(p.PasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.password_file: %w", key, err))
		}
		n.Password = pw
	}
	return n, errors.Join(errs...)
}

// readPassword returns the first line of file. Its errors never quote the content.
func readPassword(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err // *PathError: the path and the reason, nothing read
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimRight(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("%s: the first line is empty", file)
	}
	return pw, nil
}

// rulesFromConfig returns nil (no filter) for no rules: `export: []` must not silently mean
// "send nothing"; that takes an explicit deny.
func rulesFromConfig(key string, filters []config.PrefixFilter) ([]PrefixRule, error) {
	if len(filters) == 0 {
		return nil, nil
	}
	var errs []error
	rules := []PrefixRule{}
	for i, f := range filters {
		p, err := netip.ParsePrefix(f.Prefix)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d].prefix: must be a prefix such as 10.0.0.0/8, got %q", key, i, f.Prefix))
			continue
		}
		switch f.Action {
		case "", "permit", "deny":
		default:
			errs = append(errs, fmt.Errorf("%s[%d].action: must be permit or deny, got %q", key, i, f.Action))
		}
		rules = append(rules, PrefixRule{Deny: f.Action == "deny", Prefix: p, Ge: f.Ge, Le: f.Le})
	}
	return rules, errors.Join(errs...)
}
