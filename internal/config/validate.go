package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
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
	// ovn_bgp_driver never dials NB: a node that has no NB to name may leave it empty.
	checkConnection(&ps, "ovn.nb_connection", c.OVN.NBConnection, c.Driver != "ovn_bgp_driver")
	checkConnection(&ps, "ovn.sb_connection", c.OVN.SBConnection, false) // "": ask the local OVS
	checkConnection(&ps, "ovn.ovs_connection", c.OVN.OVSConnection, true)
	checkTLS(&ps, "ovn.nb_tls", c.OVN.NBConnection, c.OVN.NBTLS)
	// With sb_connection empty the SB remote comes from the local OVS, and may be ssl: too.
	checkTLS(&ps, "ovn.sb_tls", c.OVN.SBConnection, c.OVN.SBTLS)
	validateBGP(&ps, c.BGP)
	validateExposure(&ps, c.Exposure)
	validateInstance(&ps, c) // peers.go
	validateFRR(&ps, c.FRR)
	validateFRRBase(&ps, c) // frrbase.go
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

// MaxPaths is the most ECMP paths bgp.maximum_paths and bgp.maximum_paths_ibgp may ask for:
// FRR's MULTIPATH_NUM on Debian, which is also its default.
const MaxPaths = 256

func validateBGP(ps *problems, b BGP) {
	checkAS(ps, "bgp.as", b.AS)
	validateGracefulRestart(ps, b.GracefulRestart)
	if a := b.RouterID; a.IsValid() {
		switch {
		case !a.Is4():
			ps.addGot("bgp.router_id", a, "must be empty or an IPv4 address")
		case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			ps.addGot("bgp.router_id", a, "must be a unicast IPv4 address, or empty to let FRR choose")
		}
	}
	checkIfname(ps, "bgp.nic", b.NIC)
	if b.VRF != "" {
		switch {
		case !checkIfname(ps, "bgp.vrf", b.VRF):
		case b.VRF == b.NIC:
			ps.addGot("bgp.vrf", b.VRF, "must differ from bgp.nic")
		case b.VRF == "default":
			// `router bgp ASN vrf default` is FRR's default instance itself.
			ps.addGot("bgp.vrf", b.VRF, `is FRR's default VRF; set bgp.vrf to "" for no VRF`)
		}
		switch b.VRFTableID {
		case 253, 254, 255:
			ps.addGot("bgp.vrf_table_id", b.VRFTableID, "must not be a reserved table (253 default, 254 main, 255 local)")
		}
	}
	if b.VRFTableID == 0 {
		ps.addGot("bgp.vrf_table_id", b.VRFTableID, "must be 1..4294967295")
	}
	if b.MaximumPaths > MaxPaths {
		ps.addGot("bgp.maximum_paths", b.MaximumPaths, "must be 0..%d (0: FRR's default)", MaxPaths)
	}
	if b.MaximumPathsIBGP > MaxPaths {
		ps.addGot("bgp.maximum_paths_ibgp", b.MaximumPathsIBGP, "must be 0..%d (0: FRR's default)", MaxPaths)
	}

	kinds := map[string]bool{}
	for i, k := range b.KindCommunities {
		key := fmt.Sprintf("bgp.kind_communities[%d].kind", i)
		switch {
		case k.Kind == "":
			ps.add(key, "must not be empty; set one of %s", strings.Join(Kinds, ", "))
		case !slices.Contains(Kinds, k.Kind):
			ps.addGot(key, k.Kind, "must be one of %s", strings.Join(Kinds, ", "))
		case kinds[k.Kind]:
			ps.addGot(key, k.Kind, "duplicates an earlier entry; merge the two")
		}
		kinds[k.Kind] = true
	}
	profiles := map[string]bool{}
	for i, p := range b.BFDProfiles {
		key := fmt.Sprintf("bgp.bfd_profiles[%d]", i)
		validateBFDProfile(ps, key, p)
		if p.Name != "" && profiles[p.Name] {
			ps.addGot(key+".name", p.Name, "duplicates an earlier profile")
		}
		profiles[p.Name] = true
	}
	groups := validatePeerGroups(ps, b, profiles) // peers.go
	seen := make(map[string]int)
	for i, p := range b.Peers {
		key := fmt.Sprintf("bgp.peers[%d]", i)
		var name string
		if p.PeerGroup != "" {
			name = validateGroupMember(ps, key, p, groups)
		} else {
			name = validatePeer(ps, key, p, b.AS, profiles)
		}
		if name == "" {
			continue
		}
		field := ".address"
		if p.Interface != "" {
			field = ".interface"
		}
		if j, dup := seen[name]; dup {
			ps.addGot(key+field, name, "duplicates bgp.peers[%d]%s; remove one", j, field)
		} else {
			seen[name] = i
		}
	}
}

// profileName is a BFD profile name: one FRR WORD of safe characters.
var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func validateBFDProfile(ps *problems, key string, p BFDProfile) {
	switch {
	case p.Name == "":
		ps.add(key+".name", "must not be empty")
	case !profileName.MatchString(p.Name):
		ps.addGot(key+".name", p.Name, "must be 1..64 of A-Z a-z 0-9 _ . -, starting with a letter or digit")
	}
	if m := p.DetectMultiplier; m == 1 {
		ps.addGot(key+".detect_multiplier", m, "must be 2..255, or 0 for FRR's default (3)")
	}
	if v := p.ReceiveInterval; v != 0 && (v < 10 || v > 60000) {
		ps.addGot(key+".receive_interval", v, "must be 10..60000 milliseconds, or 0 for FRR's default (300)")
	}
	if v := p.TransmitInterval; v != 0 && (v < 10 || v > 60000) {
		ps.addGot(key+".transmit_interval", v, "must be 10..60000 milliseconds, or 0 for FRR's default (300)")
	}
}

// validatePeer checks one peer and returns its name: its address or interface, "" when
// neither is usable.
func validatePeer(ps *problems, key string, p Peer, asn uint32, profiles map[string]bool) string {
	name := validatePeerName(ps, key, p)
	validatePeerOptions(ps, key, p, asn, profiles)
	return name
}

// validatePeerName checks how a peer is reached and returns its name: its address or
// interface, "" when neither is usable.
func validatePeerName(ps *problems, key string, p Peer) string {
	var name string
	if p.Name != "" {
		ps.addGot(key+".name", p.Name, "is for bgp.peer_groups; a peer joins a group with peer_group")
	}
	switch a := p.Address; {
	case a.IsValid() && p.Interface != "":
		ps.add(key, "set address or interface, not both")
	case p.Interface != "":
		if checkIfname(ps, key+".interface", p.Interface) {
			name = p.Interface
		}
	case !a.IsValid():
		ps.add(key+".address", "must be set (or interface, for an unnumbered peer)")
	case a.Zone() != "":
		ps.addGot(key+".address", a, "must be an IP address without a zone")
	case a.Is4In6():
		ps.addGot(key+".address", a, "must be written as IPv4 (%s)", a.Unmap())
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback():
		ps.addGot(key+".address", a, "must be a unicast address of a remote router")
	case a.Is6() && a.IsLinkLocalUnicast():
		// FRR reaches a link-local peer only through its interface.
		ps.addGot(key+".address", a, "is IPv6 link-local; set interface instead for an unnumbered peer")
	default:
		name = a.String()
	}
	return name
}

// validatePeerOptions checks the session and policy options of a peer or a peer group.
func validatePeerOptions(ps *problems, key string, p Peer, asn uint32, profiles map[string]bool) {
	if r := p.RemoteAS; r.ASN == 0 && r.Kind == "" {
		ps.addGot(key+".remote_as", r.String(), "must be 1..4294967295, internal or external")
	}
	if d := p.Description; d != "" && !oneLine(d, 80) {
		ps.addGot(key+".description", d,
			"must be at most 80 printable ASCII characters with single spaces between words and none at either end")
	}
	if f := p.PasswordFile; f != "" {
		if !filepath.IsAbs(f) {
			ps.addGot(key+".password_file", f, "must be an absolute path")
		} else if _, err := ReadPassword(f); err != nil {
			ps.add(key+".password_file", "%v", err) // names the file, never its content
		}
	}
	if p.EBGPMultihop != 0 && p.RemoteAS.IsIBGP(asn) {
		ps.addGot(key+".ebgp_multihop", p.EBGPMultihop,
			"is only for eBGP peers (remote_as %s, bgp.as %d); remove it", p.RemoteAS, asn)
	}
	if s := p.UpdateSource; s != "" {
		if p.Interface != "" {
			// FRR ignores it: an unnumbered session is sourced from its interface.
			ps.addGot(key+".update_source", s, "is not for an interface peer; remove it")
		} else if a, err := netip.ParseAddr(s); err == nil {
			if a.Zone() != "" || !a.IsGlobalUnicast() {
				ps.addGot(key+".update_source", s, "must be a unicast address of this node or an interface name")
			}
		} else if !ifName.MatchString(s) {
			ps.addGot(key+".update_source", s, "must be an IP address of this node or an interface name")
		}
	}
	validateTimers(ps, key+".timers", p.Timers)
	if p.BFDProfile != "" && !profiles[p.BFDProfile] {
		ps.addGot(key+".bfd_profile", p.BFDProfile, "must name one of bgp.bfd_profiles")
	}
	if p.GracefulRestart != "" {
		oneOf(ps, key+".graceful_restart", p.GracefulRestart, "enable", "disable", "helper")
	}
	for j, f := range p.AddressFamilies {
		oneOf(ps, fmt.Sprintf("%s.address_families[%d]", key, j), f, "ipv4", "ipv6")
	}
	validateFilters(ps, key+".import", p.Import)
	validateFilters(ps, key+".export", p.Export)
	validatePeerFeatures(ps, key, p) // peers.go
}

// validateTimers applies FRR's rules for `timers KEEPALIVE HOLD`: both or neither, hold 3 or
// more and at least three keepalives long.
func validateTimers(ps *problems, key string, t Timers) {
	switch {
	case t.Keepalive != 0 && t.Hold == 0:
		ps.add(key, "keepalive %d needs hold; set hold (3..65535, ≥ 3×keepalive)", t.Keepalive)
	case t.Hold != 0 && t.Keepalive == 0:
		ps.add(key, "hold %d needs keepalive; set keepalive (1..hold/3)", t.Hold)
	case t.Hold != 0 && t.Hold < 3:
		ps.add(key, "hold %d is below FRR's minimum; set hold to 3..65535", t.Hold)
	case t.Hold != 0 && uint32(t.Keepalive)*3 > uint32(t.Hold):
		ps.add(key, "hold %d must be at least 3×keepalive %d; set hold ≥ %d or keepalive ≤ %d",
			t.Hold, t.Keepalive, uint32(t.Keepalive)*3, t.Hold/3)
	}
}

func validateFilters(ps *problems, key string, filters []PrefixFilter) {
	for j, f := range filters {
		k := fmt.Sprintf("%s[%d]", key, j)
		if f.Action != "" {
			oneOf(ps, k+".action", f.Action, "permit", "deny")
		}
		p := f.Prefix
		switch {
		case !p.IsValid():
			ps.add(k+".prefix", "must be set, e.g. 10.0.0.0/8")
			continue
		case p.Addr().Zone() != "" || p.Addr().Is4In6():
			ps.addGot(k+".prefix", p, "must be an IPv4 or IPv6 prefix without a zone")
			continue
		case p != p.Masked():
			ps.addGot(k+".prefix", p, "must be a network address; write %s", p.Masked())
		}
		bits, l := uint8(p.Addr().BitLen()), uint8(p.Bits())
		if f.Ge != 0 && (f.Ge <= l || f.Ge > bits) {
			ps.addGot(k+".ge", f.Ge, "must be %d..%d (longer than the prefix), or 0 for none", l+1, bits)
		}
		if f.Le != 0 && (f.Le <= l || f.Le > bits || f.Le < f.Ge) {
			ps.addGot(k+".le", f.Le, "must be %d..%d (longer than the prefix, at least ge), or 0 for none", max(l+1, f.Ge), bits)
		}
	}
}

// oneLine reports whether s survives FRR's LINE argument unchanged: printable ASCII, single
// spaces between words, at most max characters.
func oneLine(s string, max int) bool {
	if len(s) > max || strings.TrimSpace(s) != s || strings.Contains(s, "  ") {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r > '~' })
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
	if f.ExtraConfig != "" {
		if !filepath.IsAbs(f.ExtraConfig) {
			ps.addGot("frr.extra_config", f.ExtraConfig, "must be empty or an absolute path")
		} else if _, err := ReadExtraConfig(f.ExtraConfig); err != nil {
			ps.add("frr.extra_config", "%v", err)
		}
	}
	if f.WatchInterval < 100*time.Millisecond {
		ps.addGot("frr.watch_interval", f.WatchInterval, "must be at least 100ms")
	}
	// One apply, the wait included, is bounded by 2 min (internal/frr).
	if f.DaemonWait < time.Second || f.DaemonWait > time.Minute {
		ps.addGot("frr.daemon_wait", f.DaemonWait, "must be between 1s and 1m")
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

// ifName is a network device name the kernel accepts (at most 15 bytes, no '/', ':' or
// whitespace), narrowed to characters that cannot change the meaning of an FRR command line.
var ifName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)

// checkIfname checks a network device name.
func checkIfname(ps *problems, key, name string) bool {
	if ifName.MatchString(name) {
		return true
	}
	ps.addGot(key, name, "must be an interface name of 1..15 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit")
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
