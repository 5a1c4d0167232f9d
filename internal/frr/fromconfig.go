package frr

import (
	"errors"
	"fmt"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// FromAgentConfig turns the agent configuration, which internal/config has parsed and
// validated, into a Config, reading the peers' password files and the operator's extra config
// file. Call it for every render, so that a rotated password or an edited extra config is
// picked up; the files are read, and their content checked, by the same functions that
// validated them. Its errors name the key whose file failed, never a password.
func FromAgentConfig(c config.Config) (Config, error) {
	b := c.BGP
	out := Config{
		ASN: b.AS, RouterID: b.RouterID, NIC: b.NIC, VRF: b.VRF,
		Multipath:   Multipath{EBGP: b.MaximumPaths, IBGP: b.MaximumPathsIBGP, Relax: b.MultipathRelax},
		Communities: Communities{Standard: b.Communities, Large: b.LargeCommunities},
		RedistributeKernel: c.AdvertisementMethodTenantNetworks == "subnet" &&
			(c.ExposeTenantNetworks || c.ExposeIPv6GUATenantNetworks),
		GracefulRestart: GracefulRestart{Enabled: b.GracefulRestart.Enabled,
			RestartTime: b.GracefulRestart.RestartTime, StalePathTime: b.GracefulRestart.StalePathTime},
	}
	var errs []error
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
	for i, p := range b.PeerGroups {
		n := neighborFromConfig(p)
		if p.PasswordFile != "" {
			pw, err := config.ReadPassword(p.PasswordFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("bgp.peer_groups[%d].password_file: %w", i, err))
			}
			n.Password = pw
		}
		out.PeerGroups = append(out.PeerGroups, n)
	}
	for i, p := range b.Peers {
		n := neighborFromConfig(p)
		if p.PasswordFile != "" {
			pw, err := config.ReadPassword(p.PasswordFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("bgp.peers[%d].password_file: %w", i, err))
			}
			n.Password = pw
		}
		out.Neighbors = append(out.Neighbors, n)
	}
	out.Instance = Instance{GracefulShutdown: b.GracefulShutdown, ExplicitActivation: b.ExplicitActivation,
		LogNeighborChanges: b.LogNeighborChanges, Keepalive: b.Timers.Keepalive, Hold: b.Timers.Hold}
	out.Networks = b.Networks
	out.Install = Install{DefaultOnly: b.Install.DefaultOnly, SourceIPv4: b.Install.SourceIPv4, SourceIPv6: b.Install.SourceIPv6}
	l := c.FRR.Log
	out.Log = Log{Target: l.Target, File: l.File, Level: l.Level, TimestampPrecision: l.TimestampPrecision}
	out.NHTResolveViaDefault = c.FRR.NHTResolveViaDefault
	if path := c.FRR.ExtraConfig; path != "" {
		text, err := config.ReadExtraConfig(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("frr.extra_config: %w", err))
		}
		out.ExtraConfig = text
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return out, nil
}

func neighborFromConfig(p config.Peer) Neighbor {
	n := Neighbor{
		Group:           p.Name,
		Addr:            p.Address,
		Interface:       p.Interface,
		PeerGroup:       p.PeerGroup,
		TTLSecurityHops: p.TTLSecurityHops,
		AllowASIn:       p.AllowASIn,
		RemoteAS:        p.RemoteAS,
		Description:     p.Description,
		EBGPMultihop:    p.EBGPMultihop,
		UpdateSource:    p.UpdateSource,
		Timers:          Timers{Keepalive: p.Timers.Keepalive, Hold: p.Timers.Hold, Connect: p.Timers.Connect},
		ExtendedNexthop: p.ExtendedNexthop,
		BFD:             BFD{Enabled: p.BFD || p.BFDProfile != "", Profile: p.BFDProfile},
		GracefulRestart: p.GracefulRestart,
		Policy: Policy{
			Import:                rulesFromConfig(p.Import),
			Export:                rulesFromConfig(p.Export),
			LocalPreference:       p.LocalPreference,
			Communities:           Communities{Standard: p.Communities, Large: p.LargeCommunities},
			ImportMatch:           p.ImportMatchCommunities,
			ImportLocalPreference: p.ImportLocalPreference,
			ImportCommunities:     Communities{Standard: p.ImportCommunities, Large: p.ImportLargeCommunities},
		},
	}
	if len(p.AddressFamilies) > 0 { // an empty list is no list, as everywhere in the config
		n.Families = []Family{}
		for _, f := range p.AddressFamilies {
			n.Families = append(n.Families, Family(f))
		}
	}
	return n
}

// rulesFromConfig returns nil (no filter) for no rules: `export: []` must not silently mean
// "send nothing"; that takes an explicit deny.
func rulesFromConfig(filters []config.PrefixFilter) []PrefixRule {
	if len(filters) == 0 {
		return nil
	}
	rules := make([]PrefixRule, 0, len(filters))
	for _, f := range filters {
		rules = append(rules, PrefixRule{Deny: f.Action == "deny", Prefix: f.Prefix, Ge: f.Ge, Le: f.Le})
	}
	return rules
}
