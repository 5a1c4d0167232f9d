package config

import (
	"bufio"
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Upstream ovn-bgp-agent reads an oslo.config INI file (ovn_bgp_agent.conf). Operators keep it
// in their ConfigMaps, so it is read here as well: every upstream option with a meaning maps
// onto one key of Config; options without one are accepted with a warning; anything else is
// an error, as in YAML.

// iniOption is where one upstream option goes.
type iniOption struct {
	key  string // dotted Config key; "" when the option has no meaning here
	why  string // for an option without meaning: why, for the warning
	conv func(string) (string, error)
}

func to(key string) iniOption { return iniOption{key: key} }

func ignored(why string) iniOption { return iniOption{why: why} }

// ovnOptions may stand in [ovn] or, deprecated upstream, in [DEFAULT].
var ovnOptions = map[string]iniOption{
	"ovn_nb_connection":  to("ovn.nb_connection"),
	"ovn_sb_connection":  to("ovn.sb_connection"),
	"ovn_nb_private_key": to("ovn.nb_tls.private_key"),
	"ovn_nb_certificate": to("ovn.nb_tls.certificate"),
	"ovn_nb_ca_cert":     to("ovn.nb_tls.ca_cert"),
	"ovn_sb_private_key": to("ovn.sb_tls.private_key"),
	"ovn_sb_certificate": to("ovn.sb_tls.certificate"),
	"ovn_sb_ca_cert":     to("ovn.sb_tls.ca_cert"),
}

const noEVPN = "EVPN and the ovn/vrf exposing methods are not implemented; the underlay method is always used"

// iniOptions maps section → option (lower case) → target. README.md has the same table.
var iniOptions = map[string]map[string]iniOption{
	"default": merge(ovnOptions, map[string]iniOption{
		"debug":                                     {key: "log.level", conv: debugLevel},
		"use_json":                                  {key: "log.format", conv: jsonFormat},
		"reconcile_interval":                        to("reconcile_interval"),
		"expose_tenant_networks":                    to("expose_tenant_networks"),
		"expose_ipv6_gua_tenant_networks":           to("expose_ipv6_gua_tenant_networks"),
		"advertisement_method_tenant_networks":      to("advertisement_method_tenant_networks"),
		"require_snat_disabled_for_tenant_networks": to("require_snat_disabled_for_tenant_networks"),
		"address_scopes":                            to("address_scopes"),
		"driver":                                    to("driver"),
		"ovsdb_connection":                          to("ovn.ovs_connection"),
		"bgp_as":                                    to("bgp.as"),
		"bgp_router_id":                             to("bgp.router_id"),
		"bgp_nic":                                   to("bgp.nic"),
		"bgp_vrf":                                   to("bgp.vrf"),
		"bgp_vrf_table_id":                          to("bgp.vrf_table_id"),
		"exposing_method":                           {conv: underlayOnly, why: "underlay is the only method"},
		"frr_reconcile_interval":                    ignored("the FRR configuration is checked on every reconcile pass and re-applied when FRR restarts"),
		"ovsdb_connection_timeout":                  ignored("connections are bounded by a fixed timeout and retried forever"),
		"clear_vrf_routes_on_startup":               ignored("the agent adopts what a previous run left and removes only what is stale"),
		"delete_vrf_on_disconnect":                  ignored("the agent never deletes the VRF: shutdown leaves state in place"),
		"evpn_local_ip":                             ignored(noEVPN),
		"evpn_nic":                                  ignored(noEVPN),
		"evpn_udp_dstport":                          ignored(noEVPN),
		// oslo.log options: the agent logs to standard error, for the container runtime.
		"log_file":          ignored("the agent logs to standard error"),
		"log_dir":           ignored("the agent logs to standard error"),
		"use_syslog":        ignored("the agent logs to standard error"),
		"use_stderr":        ignored("the agent logs to standard error"),
		"verbose":           ignored("use debug or log.level"),
		"log_config_append": ignored("use log.level and log.format"),
	}),
	"ovn": ovnOptions,
	"bgp": {"bgp_speaker_driver": to("driver")},
	"agent": {
		"root_helper":        ignored("the agent uses netlink and needs no root helper"),
		"root_helper_daemon": ignored("the agent uses netlink and needs no root helper"),
	},
	"local_ovn_cluster": {
		"ovn_nb_connection":               ignored(noEVPN),
		"external_nics":                   ignored(noEVPN),
		"peer_ips":                        ignored(noEVPN),
		"provider_networks_pool_prefixes": ignored(noEVPN),
		"bgp_chassis_id":                  ignored(noEVPN),
	},
}

func merge(a, b map[string]iniOption) map[string]iniOption {
	out := make(map[string]iniOption, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func debugLevel(v string) (string, error) {
	b, err := parseINIBool(v)
	if err != nil {
		return "", err
	}
	if b {
		return "debug", nil
	}
	return "info", nil
}

func jsonFormat(v string) (string, error) {
	b, err := parseINIBool(v)
	if err != nil {
		return "", err
	}
	if b {
		return "json", nil
	}
	return "text", nil
}

func underlayOnly(v string) (string, error) {
	if strings.EqualFold(v, "underlay") {
		return "", nil
	}
	return "", fmt.Errorf(`must be "underlay", got %q: %s`, v, noEVPN)
}

// parseINIBool accepts what oslo.config accepts.
func parseINIBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1", "t", "y":
		return true, nil
	case "false", "no", "off", "0", "f", "n":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false, got %q", v)
}

// isINI tells the file's format: by extension, else by its first meaningful line.
func isINI(path string, data []byte) bool {
	for _, ext := range []string{".conf", ".ini", ".cfg"} {
		if strings.HasSuffix(path, ext) {
			return true
		}
	}
	if strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml") {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		return line[0] == '['
	}
	return false
}

// readINI turns an upstream INI file into the nested map the YAML path produces, with values
// converted to their fields' types. Problems are keyed "[section] option"; options without a
// meaning here come back as warnings.
func readINI(data []byte, ps *problems) (map[string]any, []string, map[string]string) {
	types := leafTypes()
	out := map[string]any{}
	names := map[string]string{} // Config key → the INI option that set it
	var warnings []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			name, ok := strings.CutSuffix(line, "]")
			section = strings.ToLower(strings.TrimSpace(name[1:]))
			if _, known := iniOptions[section]; !ok || !known {
				ps.add(fmt.Sprintf("line %d", n), "unknown section %s (known: %s)", line, strings.Join(iniSections(), ", "))
				section = "?"
			}
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			ps.add(fmt.Sprintf("line %d", n), "continuation lines are not supported; write the value on one line")
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			ps.add(fmt.Sprintf("line %d", n), "expected option = value")
			continue
		}
		if section == "?" {
			continue // already reported
		}
		if section == "" {
			ps.add(fmt.Sprintf("line %d", n), "option before any [section]")
			continue
		}
		name = strings.TrimSpace(name)
		value = iniValue(value)
		where := fmt.Sprintf("[%s] %s", iniSectionName(section), name)
		opt, known := iniOptions[section][strings.ToLower(name)]
		switch {
		case !known:
			ps.add(where, "unknown option")
			continue
		case opt.key == "" && opt.conv == nil:
			warnings = append(warnings, fmt.Sprintf("%s: accepted but has no effect here: %s", where, opt.why))
			continue
		}
		if setOption(where, opt, value, types, out, ps) && opt.key != "" {
			names[opt.key] = where
		}
	}
	return out, warnings, names
}

// setOption converts value for opt's key and sets it in out; problems are keyed by where
// (how the operator wrote it). It reports whether the value was set.
func setOption(where string, opt iniOption, value string, types map[string]leaf, out map[string]any, ps *problems) bool {
	v := value
	if opt.conv != nil {
		var err error
		if v, err = opt.conv(value); err != nil {
			ps.add(where, "%v", err)
			return false
		}
		if opt.key == "" {
			return false // a value checked for compatibility only (exposing_method)
		}
	}
	typ := types[opt.key]
	if typ.typ.Kind() == reflect.Bool {
		b, err := parseINIBool(v)
		if err != nil {
			ps.add(where, "%v", err)
			return false
		}
		v = fmt.Sprint(b)
	}
	conv, err := convert(v, typ.typ, typ.want)
	if err != nil {
		ps.reject(where+" ("+opt.key+")", "", err)
		return false
	}
	setPath(out, opt.key, conv)
	return true
}

// leafTypes maps each scalar key of Config to its leaf.
func leafTypes() map[string]leaf {
	types := map[string]leaf{}
	for _, l := range leaves(reflect.TypeFor[Config](), "", nil) {
		types[l.key] = l
	}
	return types
}

// iniValue trims a value, an inline "# comment" or "; comment" after whitespace, and quotes.
func iniValue(v string) string {
	for _, marker := range []string{" #", "\t#", " ;", "\t;"} {
		if i := strings.Index(v, marker); i >= 0 {
			v = v[:i]
		}
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		v = v[1 : len(v)-1]
	}
	return v
}

func iniSectionName(s string) string {
	if s == "default" {
		return "DEFAULT"
	}
	return s
}

func iniSections() []string {
	var out []string
	for s := range iniOptions {
		out = append(out, "["+iniSectionName(s)+"]")
	}
	slices.Sort(out)
	return out
}

// upstreamEnv lists the upstream-style variables operators set in DaemonSets
// (EXPOSE_TENANT_NETWORKS=true): the [DEFAULT] options with a meaning here, upper-cased.
// Generic names (DEBUG, DRIVER) are left out: a container's environment has too many of them.
var upstreamEnv = []string{
	"expose_tenant_networks", "expose_ipv6_gua_tenant_networks", "advertisement_method_tenant_networks",
	"require_snat_disabled_for_tenant_networks", "address_scopes", "reconcile_interval",
	"bgp_as", "bgp_router_id", "bgp_nic", "bgp_vrf", "bgp_vrf_table_id",
	"ovn_nb_connection", "ovn_sb_connection",
}

// upstreamEnvOverrides reads upstreamEnv from environ the way the INI file is read.
func upstreamEnvOverrides(environ []string, ps *problems) map[string]any {
	out := map[string]any{}
	types := leafTypes()
	for _, opt := range upstreamEnv {
		name := strings.ToUpper(opt)
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				setOption("environment "+name, iniOptions["default"][opt], strings.TrimSpace(v), types, out, ps)
				break
			}
		}
	}
	return out
}
