package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// validate returns every rule a typed Config breaks, unsorted.
func validate(c Config) []Problem {
	var ps problems
	oneOf(&ps, "driver", c.Driver, "nb_ovn_bgp_driver", "ovn_bgp_driver")
	if c.ReconcileInterval < time.Second {
		ps.addGot("reconcile_interval", c.ReconcileInterval, "must be at least 1s")
	}
	oneOf(&ps, "advertisement_method_tenant_networks", c.AdvertisementMethodTenantNetworks, "host", "subnet")
	checkConnection(&ps, "ovn.nb_connection", c.OVN.NBConnection, true)
	checkConnection(&ps, "ovn.sb_connection", c.OVN.SBConnection, false) // "": ask the local OVS
	checkConnection(&ps, "ovn.ovs_connection", c.OVN.OVSConnection, true)
	checkTLS(&ps, "ovn.nb_tls", c.OVN.NBConnection, c.OVN.NBTLS)
	// With sb_connection empty the SB remote comes from the local OVS, and may be ssl: too.
	checkTLS(&ps, "ovn.sb_tls", c.OVN.SBConnection, c.OVN.SBTLS)
	validateBGP(&ps, c.BGP)
	validateFRR(&ps, c.FRR)
	validateKernel(&ps, c.Kernel, c.BGP)
	oneOf(&ps, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&ps, "log.format", c.Log.Format, "text", "json")
	if c.Metrics.Listen != "" {
		if msg := listenProblem(c.Metrics.Listen); msg != "" {
			ps.addGot("metrics.listen", c.Metrics.Listen, "%s", msg)
		}
	}
	return ps.list
}

func validateBGP(ps *problems, b BGP) {
	checkAS(ps, "bgp.as", b.AS)
	validateGracefulRestart(ps, b.GracefulRestart)
	if b.RouterID != "" {
		if a, err := netip.ParseAddr(b.RouterID); err != nil || !a.Is4() {
			ps.addGot("bgp.router_id", b.RouterID, "must be empty or an IPv4 address")
		}
	}
	checkIfname(ps, "bgp.nic", b.NIC)
	if b.VRF != "" {
		if checkIfname(ps, "bgp.vrf", b.VRF) && b.VRF == b.NIC {
			ps.addGot("bgp.vrf", b.VRF, "must differ from bgp.nic")
		}
		switch b.VRFTableID {
		case 253, 254, 255:
			ps.addGot("bgp.vrf_table_id", b.VRFTableID, "must not be a reserved table (253 default, 254 main, 255 local)")
		}
	}
	if b.VRFTableID == 0 {
		ps.addGot("bgp.vrf_table_id", b.VRFTableID, "must be 1..4294967295")
	}

	kinds := map[string]bool{}
	for i, k := range b.KindCommunities {
		// The kind names belong to internal/exposure; internal/frr checks them.
		key := fmt.Sprintf("bgp.kind_communities[%d].kind", i)
		if k.Kind == "" {
			ps.add(key, "must not be empty")
		} else if kinds[k.Kind] {
			ps.addGot(key, k.Kind, "duplicates an earlier entry")
		}
		kinds[k.Kind] = true
	}
	profiles := map[string]bool{}
	for i, p := range b.BFDProfiles {
		key := fmt.Sprintf("bgp.bfd_profiles[%d]", i)
		if p.Name == "" {
			ps.add(key+".name", "must not be empty")
		} else if profiles[p.Name] {
			ps.addGot(key+".name", p.Name, "duplicates an earlier profile")
		}
		profiles[p.Name] = true
	}
	seen := make(map[string]int)
	for i, p := range b.Peers {
		key := fmt.Sprintf("bgp.peers[%d]", i)
		name := validatePeer(ps, key, p, profiles)
		if name == "" {
			continue
		}
		field := ".address"
		if p.Interface != "" {
			field = ".interface"
		}
		if j, dup := seen[name]; dup {
			ps.addGot(key+field, name, "duplicates bgp.peers[%d]%s", j, field)
		} else {
			seen[name] = i
		}
	}
}

// validatePeer checks what can be checked without FRR's rules (internal/frr checks those) and
// returns the peer's name: its address or interface, "" when neither is usable.
func validatePeer(ps *problems, key string, p Peer, profiles map[string]bool) string {
	var name string
	switch {
	case p.Address != "" && p.Interface != "":
		ps.add(key, "set address or interface, not both")
	case p.Interface != "":
		if checkIfname(ps, key+".interface", p.Interface) {
			name = p.Interface
		}
	case p.Address == "":
		ps.add(key+".address", "must be set (or interface, for an unnumbered peer)")
	default:
		a, err := netip.ParseAddr(p.Address)
		switch {
		case err != nil:
			ps.addGot(key+".address", p.Address, "must be an IP address")
		case a.Zone() != "":
			ps.addGot(key+".address", p.Address, "must be an IP address without a zone")
		default:
			name = a.Unmap().String()
		}
	}
	switch p.RemoteAS {
	case "internal", "external":
	default:
		if n, err := strconv.ParseUint(string(p.RemoteAS), 10, 32); err != nil || n == 0 {
			ps.addGot(key+".remote_as", string(p.RemoteAS), "must be 1..4294967295, internal or external")
		}
	}
	if p.PasswordFile != "" && !filepath.IsAbs(p.PasswordFile) {
		ps.add(key+".password_file", "must be an absolute path")
	}
	if p.BFDProfile != "" && !profiles[p.BFDProfile] {
		ps.addGot(key+".bfd_profile", p.BFDProfile, "must name one of bgp.bfd_profiles")
	}
	if p.GracefulRestart != "" {
		oneOf(ps, key+".graceful_restart", p.GracefulRestart, "enable", "disable", "helper")
	}
	for j, f := range p.AddressFamilies {
		oneOf(ps, fmt.Sprintf("%s.address_families[%d]", key, j), f, "ipv4", "ipv6")
	}
	for dir, list := range map[string][]PrefixFilter{"import": p.Import, "export": p.Export} {
		for j, f := range list {
			k := fmt.Sprintf("%s.%s[%d]", key, dir, j)
			if f.Action != "" {
				oneOf(ps, k+".action", f.Action, "permit", "deny")
			}
			if _, err := netip.ParsePrefix(f.Prefix); err != nil {
				ps.addGot(k+".prefix", f.Prefix, "must be a prefix such as 10.0.0.0/8")
			}
		}
	}
	return name
}

func validateFRR(ps *problems, f FRR) {
	if f.Pathspace != "" && !validPathspace(f.Pathspace) {
		ps.addGot("frr.pathspace", f.Pathspace, "must be empty or 1..64 of A-Z a-z 0-9 _ . - (and not . or ..)")
	}
	for key, p := range map[string]string{
		"frr.vty_socket":     f.VtySocket,
		"frr.config_file":    f.ConfigFile,
		"frr.reload_command": f.ReloadCommand,
	} {
		if !filepath.IsAbs(p) {
			ps.addGot(key, p, "must be an absolute path")
		}
	}
	if f.ExtraConfig != "" && !filepath.IsAbs(f.ExtraConfig) {
		ps.addGot("frr.extra_config", f.ExtraConfig, "must be empty or an absolute path")
	}
	if f.WatchInterval < 100*time.Millisecond {
		ps.addGot("frr.watch_interval", f.WatchInterval, "must be at least 100ms")
	}
}

func validateKernel(ps *problems, k Kernel, b BGP) {
	// 0 is the kernel's own rule for the local table; 32766 and 32767 are main and default.
	if k.RulePriority < 1 || k.RulePriority > 32765 {
		ps.addGot("kernel.rule_priority", k.RulePriority, "must be 1..32765 (below the main table's rule at 32766)")
	}
	// 0..4 are the kernel's own (unspec, redirect, kernel, boot, static); 11 and 186..198
	// are FRR zebra's, and zebra would take such routes for its own.
	switch p := k.RouteProtocol; {
	case p < 5 || p > 255:
		ps.addGot("kernel.route_protocol", p, "must be 5..255 (0..4 are reserved by the kernel)")
	case p == 11 || p >= 186 && p <= 198:
		ps.addGot("kernel.route_protocol", p, "must not be one of FRR's route protocols (11, 186..198)")
	}
	first, last := uint64(k.BridgeTableBase), uint64(k.BridgeTableBase)+BridgeTableCount-1
	switch {
	case first == 0 || last > 0xffffffff:
		ps.addGot("kernel.bridge_table_base", k.BridgeTableBase, "must be 1..%d (the agent owns %d tables from there)",
			uint64(0xffffffff)-BridgeTableCount+1, BridgeTableCount)
	case first <= 255 && last >= 253:
		ps.addGot("kernel.bridge_table_base", k.BridgeTableBase,
			"tables %d..%d would include the reserved tables 253 (default), 254 (main) or 255 (local)", first, last)
	case b.VRF != "" && uint64(b.VRFTableID) >= first && uint64(b.VRFTableID) <= last:
		ps.addGot("kernel.bridge_table_base", k.BridgeTableBase,
			"tables %d..%d would include bgp.vrf_table_id %d", first, last, b.VRFTableID)
	}
}

func oneOf(ps *problems, key, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		ps.addGot(key, val, "must be one of %s", strings.Join(allowed, ", "))
	}
}

func checkAS(ps *problems, key string, as uint32) {
	if as == 0 {
		ps.addGot(key, as, "must be 1..4294967295")
	}
}

// checkIfname applies the kernel's rules for a network device name (dev_valid_name).
func checkIfname(ps *problems, key, name string) bool {
	var msg string
	switch {
	case len(name) < 1 || len(name) > 15:
		msg = "must be an interface name of 1..15 characters"
	case name == "." || name == "..":
		msg = "must be an interface name other than . or .."
	case strings.ContainsFunc(name, func(r rune) bool {
		return r == '/' || r == ':' || r == 0 || unicode.IsSpace(r)
	}):
		msg = "must be an interface name without '/', ':' or whitespace"
	default:
		return true
	}
	ps.addGot(key, name, "%s", msg)
	return false
}

// validPathspace keeps the name safe as one path element: FRR uses /etc/frr/NAME and /var/run/frr/NAME.
func validPathspace(s string) bool {
	if len(s) > 64 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '_' || r == '.' || r == '-')
	})
}

// checkConnection checks an OVSDB connection: comma-separated unix:PATH, tcp:HOST:PORT or
// ssl:HOST:PORT remotes.
func checkConnection(ps *problems, key, conn string, required bool) {
	if conn == "" {
		if required {
			ps.add(key, "must not be empty")
		}
		return
	}
	remotes := strings.Split(conn, ",")
	for i, r := range remotes {
		r = strings.TrimSpace(r)
		msg := remoteProblem(r)
		if msg == "" {
			continue
		}
		if len(remotes) > 1 {
			msg = fmt.Sprintf("remote %d: %s", i+1, msg)
		}
		ps.addGot(key, r, "%s", msg)
	}
}

// checkTLS requires the key pair and CA for ssl: remotes, as absolute paths. A TLS section
// without ssl: remotes is not an error: the SB remote may come from the local OVS.
func checkTLS(ps *problems, key, conn string, t TLS) {
	usesSSL := strings.Contains(conn, "ssl:")
	if !usesSSL && !t.Set() {
		return
	}
	for name, path := range map[string]string{"private_key": t.PrivateKey, "certificate": t.Certificate, "ca_cert": t.CACert} {
		switch {
		case path == "" && usesSSL:
			ps.add(key+"."+name, "must be set: the connection has ssl: remotes")
		case path == "" && t.Set():
			ps.add(key+"."+name, "must be set together with the other TLS files")
		case path != "" && !filepath.IsAbs(path):
			ps.addGot(key+"."+name, path, "must be an absolute path")
		}
	}
}

func remoteProblem(r string) string {
	scheme, rest, _ := strings.Cut(r, ":")
	switch scheme {
	case "unix":
		if rest == "" {
			return "unix: needs a socket path"
		}
		return ""
	case "tcp", "ssl":
		return hostPortProblem(rest)
	}
	return "must be unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT"
}

func hostPortProblem(hp string) string {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		if strings.Count(hp, ":") > 1 && !strings.HasPrefix(hp, "[") {
			return "an IPv6 host must be in brackets, e.g. tcp:[fd00::1]:6641"
		}
		return "must be tcp:HOST:PORT or ssl:HOST:PORT"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "port must be 1..65535"
	}
	if strings.Contains(host, ":") { // SplitHostPort only allows this inside brackets
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "host in brackets must be an IPv6 address"
		}
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if !validHostname(host) {
		return "host must be an IP address or a DNS name"
	}
	return ""
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-') {
				return false
			}
		}
	}
	// An all-numeric last label means a mistyped IPv4 address such as 10.0.0.256.
	return digitRun(labels[len(labels)-1]) != len(labels[len(labels)-1])
}

// listenProblem checks a listen address: HOST:PORT with an IP address, "localhost" or nothing
// (every address) as host. A DNS name is refused: what it resolves to may change under the
// running agent.
func listenProblem(hp string) string {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return `must be HOST:PORT (e.g. 127.0.0.1:9447, [::1]:9447 or :9447), or "" to serve nothing`
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "port must be 1..65535"
	}
	if host == "" || host == "localhost" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "host must be an IP address, localhost or empty (every address)"
	}
	return ""
}
