package config

import (
	"path/filepath"
)

// Co-owned FRR mode: frr.base_config names the operator's own FRR configuration (the file FRR
// itself loads, typically a ConfigMap). The agent then renders only its own part, merges it
// into that file and applies the result; the operator's file owns the BGP instance, the
// peers, their policies and ECMP. Without frr.base_config the agent renders the whole file
// from bgp.peers (owned mode).
//
// Upstream's INI cannot express peers, so an INI configuration is co-owned by default, with
// the file FRR loads as its base (DefaultBaseConfig).

// DefaultBaseConfig is the file FRR loads at start for pathspace ("" = the default instance):
// the base of an INI configuration that does not set frr.base_config.
func DefaultBaseConfig(pathspace string) string {
	return filepath.Join("/etc/frr", pathspace, "frr.conf")
}

// defaultINIBase sets frr.base_config for an INI file unless a layer set it (an empty value
// from the environment turns co-owned mode off).
func defaultINIBase(cfg *Config, ini bool, layers ...map[string]any) {
	if !ini {
		return
	}
	for _, l := range layers {
		if frr, ok := l["frr"].(map[string]any); ok {
			if _, set := frr["base_config"]; set {
				return
			}
		}
	}
	cfg.FRR.BaseConfig = DefaultBaseConfig(cfg.FRR.Pathspace)
}

// validateFRRBase checks frr.base_config and the keys co-owned mode leaves to the
// operator's file.
func validateFRRBase(ps *problems, c Config) {
	base := c.FRR.BaseConfig
	if base == "" {
		return
	}
	if !filepath.IsAbs(base) {
		ps.addGot("frr.base_config", base, "must be empty or an absolute path")
	}
	if len(c.BGP.Peers) > 0 {
		ps.add("frr.base_config", "set together with bgp.peers: either the operator's FRR file "+
			"owns the peers (frr.base_config, co-owned mode) or the agent renders them from bgp.peers "+
			"(owned mode); remove one of the two")
	}
	// What the operator's file owns in co-owned mode: a value here would have no effect.
	for key, set := range map[string]bool{
		"frr.extra_config":       c.FRR.ExtraConfig != "",
		"bgp.maximum_paths":      c.BGP.MaximumPaths != 0,
		"bgp.maximum_paths_ibgp": c.BGP.MaximumPathsIBGP != 0,
		"bgp.multipath_relax":    c.BGP.MultipathRelax,
		"bgp.bfd_profiles":       len(c.BGP.BFDProfiles) > 0,
	} {
		if set {
			ps.add(key, "must not be set with frr.base_config: the operator's FRR file (%s) owns it in co-owned mode", base)
		}
	}
	for key, set := range coOwnedKeys(c) { // peers.go
		if set {
			ps.add(key, "must not be set with frr.base_config: the operator's FRR file (%s) owns it in co-owned mode", base)
		}
	}
	// frr-reload.py runs `vtysh write` after a reload unless the file it reloads is
	// <confdir>/frr.conf, and that write goes over the operator's file. The agent passes the
	// merged file's directory as confdir, so the file must be named frr.conf.
	if f := c.FRR.ConfigFile; f != base && filepath.Base(f) != "frr.conf" {
		ps.addGot("frr.config_file", f, "must be named frr.conf with frr.base_config set "+
			"(frr-reload.py writes FRR's running configuration over the operator's file otherwise)")
	}
}
