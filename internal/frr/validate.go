package frr

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// ifName is what Linux accepts as a device name (at most 15 bytes), restricted to characters
// that cannot change the meaning of an FRR command line.
var ifName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)

// profileName is a BFD profile name: a single FRR WORD of safe characters.
var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Validate checks every value that reaches the rendered text. Errors use the agent's
// configuration key names, so a user can find the value to fix. Secrets never appear.
func (c Config) Validate() error { return errors.Join(c.problems()...) }

func (c Config) problems() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ASN == 0 {
		add("bgp.as: must be 1..4294967295, got 0")
	}
	if c.RouterID.IsValid() {
		if err := checkRouterID(c.RouterID); err != nil {
			add("bgp.router_id: %w", err)
		}
	}
	if !ifName.MatchString(c.NIC) {
		add("bgp.nic: must be an interface name matching %s, got %q", ifName, c.NIC)
	}
	if c.VRF != "" {
		if !ifName.MatchString(c.VRF) {
			add("bgp.vrf: must be empty or a VRF device name matching %s, got %q", ifName, c.VRF)
		} else if c.VRF == "default" {
			// `router bgp ASN vrf default` is the default instance itself.
			add(`bgp.vrf: "default" is FRR's default VRF; leave bgp.vrf empty for no VRF`)
		}
	}
	if c.Multipath.EBGP > MaxPathsDefault {
		add("bgp.maximum_paths: must be 0..%d, got %d", MaxPathsDefault, c.Multipath.EBGP)
	}
	if c.Multipath.IBGP > MaxPathsDefault {
		add("bgp.maximum_paths_ibgp: must be 0..%d, got %d", MaxPathsDefault, c.Multipath.IBGP)
	}
	errs = append(errs, checkCommunities("bgp", c.Communities)...)
	errs = append(errs, checkKindCommunities(c.KindCommunities)...)
	profiles := map[string]bool{}
	for i, p := range c.BFDProfiles {
		key := fmt.Sprintf("bgp.bfd_profiles[%d]", i)
		errs = append(errs, checkBFDProfile(key, p)...)
		if profiles[p.Name] {
			add("%s.name: duplicate profile %q", key, p.Name)
		}
		profiles[p.Name] = true
	}
	seen := make(map[string]int, len(c.Neighbors))
	for i, n := range c.Neighbors {
		key := fmt.Sprintf("bgp.peers[%d]", i)
		errs = append(errs, checkNeighbor(key, c.ASN, n, profiles)...)
		if j, dup := seen[n.Name()]; dup && n.Name() != "invalid IP" {
			add("%s: duplicate of bgp.peers[%d] (%s)", key, j, n.Name())
		} else {
			seen[n.Name()] = i
		}
	}
	if strings.ContainsRune(c.ExtraConfig, 0) {
		add("frr.extra_config: must be text, found a NUL byte")
	}
	return errs
}

func checkNeighbor(key string, asn uint32, n Neighbor, profiles map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case n.Addr.IsValid() && n.Interface != "":
		add("%s: set address or interface, not both", key)
	case n.Interface != "":
		if !ifName.MatchString(n.Interface) {
			add("%s.interface: must be an interface name matching %s, got %q", key, ifName, n.Interface)
		}
	default:
		if err := checkPeerAddr(n.Addr); err != nil {
			add("%s.address: %w", key, err)
		}
	}
	switch n.RemoteAS.Kind {
	case "":
		if n.RemoteAS.ASN == 0 {
			add("%s.remote_as: must be 1..4294967295, internal or external, got 0", key)
		}
	case Internal, External:
		if n.RemoteAS.ASN != 0 {
			add("%s.remote_as: a number or a keyword, not both", key)
		}
	default:
		add("%s.remote_as: must be 1..4294967295, internal or external, got %q", key, n.RemoteAS.Kind)
	}
	if d := n.Description; d != "" && !oneLine(d, 80) {
		add("%s.description: must be at most 80 printable characters, single spaces, no leading or trailing space", key)
	}
	if p := n.Password; p != "" && (len(p) > 80 || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r > '~' })) {
		add("%s.password_file: the password must be 1..80 printable ASCII characters without spaces", key)
	}
	if n.EBGPMultihop != 0 && (n.RemoteAS.Kind == Internal || n.RemoteAS.ASN == asn) {
		add("%s.ebgp_multihop: only for eBGP peers (remote_as is %s, ours is %d)", key, n.RemoteAS, asn)
	}
	if s := n.UpdateSource; s != "" && n.Interface != "" {
		// FRR ignores it: an unnumbered session is sourced from the interface.
		add("%s.update_source: not for an interface peer", key)
	} else if s != "" {
		if a, err := netip.ParseAddr(s); err == nil {
			if a.Zone() != "" || !a.IsGlobalUnicast() {
				add("%s.update_source: must be a unicast address or an interface name, got %q", key, s)
			}
		} else if !ifName.MatchString(s) {
			add("%s.update_source: must be an IP address or an interface name, got %q", key, s)
		}
	}
	t := n.Timers
	if (t.Keepalive == 0) != (t.Hold == 0) {
		add("%s.timers: keepalive and hold go together, got keepalive %d, hold %d", key, t.Keepalive, t.Hold)
	} else if t.Hold != 0 && (t.Hold < 3 || t.Keepalive > t.Hold/3) {
		add("%s.timers: hold must be at least 3 and 3 x keepalive, got keepalive %d, hold %d", key, t.Keepalive, t.Hold)
	}
	if p := n.BFD.Profile; p != "" && !profiles[p] {
		add("%s.bfd_profile: no profile %q in bgp.bfd_profiles", key, p)
	}
	switch n.GracefulRestart {
	case "", GREnable, GRDisable, GRHelper:
	default:
		add("%s.graceful_restart: must be empty, enable, disable or helper, got %q", key, n.GracefulRestart)
	}
	if n.Families != nil && len(n.Families) == 0 {
		add("%s.address_families: must name at least one of ipv4, ipv6", key)
	}
	for j, f := range n.Families {
		if f != IPv4 && f != IPv6 {
			add("%s.address_families[%d]: must be ipv4 or ipv6, got %q", key, j, f)
		}
	}
	errs = append(errs, checkRules(key+".import", n.Policy.Import)...)
	errs = append(errs, checkRules(key+".export", n.Policy.Export)...)
	errs = append(errs, checkCommunities(key, n.Policy.Communities)...)
	return errs
}

func checkRules(key string, rules []PrefixRule) []error {
	var errs []error
	for i, r := range rules {
		k := fmt.Sprintf("%s[%d]", key, i)
		p := r.Prefix
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("%s.prefix: missing", k))
			continue
		}
		if p != p.Masked() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			errs = append(errs, fmt.Errorf("%s.prefix: must be a network address such as %s, got %s", k, p.Masked(), p))
		}
		bits := uint8(p.Addr().BitLen())
		l := uint8(p.Bits())
		if r.Ge != 0 && (r.Ge <= l || r.Ge > bits) {
			errs = append(errs, fmt.Errorf("%s.ge: must be %d..%d (longer than the prefix), got %d", k, l+1, bits, r.Ge))
		}
		if r.Le != 0 && (r.Le <= l || r.Le > bits || r.Le < r.Ge) {
			errs = append(errs, fmt.Errorf("%s.le: must be %d..%d (longer than the prefix, at least ge), got %d", k, max(l+1, r.Ge), bits, r.Le))
		}
	}
	return errs
}

func checkCommunities(key string, c Communities) []error {
	var errs []error
	for i, s := range c.Standard {
		if !validCommunity(s, 2, 16) {
			errs = append(errs, fmt.Errorf("%s.communities[%d]: must be ASN:VALUE with two numbers 0..65535, got %q", key, i, s))
		}
	}
	for i, s := range c.Large {
		if !validCommunity(s, 3, 32) {
			errs = append(errs, fmt.Errorf("%s.large_communities[%d]: must be GLOBAL:LOCAL1:LOCAL2 with three numbers 0..4294967295, got %q", key, i, s))
		}
	}
	return errs
}

func validCommunity(s string, parts, bits int) bool {
	f := strings.Split(s, ":")
	if len(f) != parts {
		return false
	}
	for _, p := range f {
		// No leading zeros or signs: FRR prints numbers plainly, and the text must round-trip.
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return false
		}
		if _, err := strconv.ParseUint(p, 10, bits); err != nil {
			return false
		}
	}
	return true
}

func checkBFDProfile(key string, p BFDProfile) []error {
	var errs []error
	if !profileName.MatchString(p.Name) {
		errs = append(errs, fmt.Errorf("%s.name: must match %s, got %q", key, profileName, p.Name))
	}
	if m := p.DetectMultiplier; m != 0 && m < 2 {
		errs = append(errs, fmt.Errorf("%s.detect_multiplier: must be 2..255, got %d", key, m))
	}
	for name, v := range map[string]uint32{"receive_interval": p.ReceiveInterval, "transmit_interval": p.TransmitInterval} {
		if v != 0 && (v < 10 || v > 60000) {
			errs = append(errs, fmt.Errorf("%s.%s: must be 10..60000 milliseconds, got %d", key, name, v))
		}
	}
	return errs
}

// oneLine reports whether s survives FRR's LINE argument unchanged: printable ASCII, single
// spaces between words, at most max characters.
func oneLine(s string, max int) bool {
	if len(s) > max || strings.TrimSpace(s) != s || strings.Contains(s, "  ") {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r > '~' })
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
		return errors.New("missing: set address or interface")
	case a.Zone() != "":
		return fmt.Errorf("must not have a zone, got %s", a)
	case a.Is4In6():
		return fmt.Errorf("must be written as IPv4 (%s), got %s", a.Unmap(), a)
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback():
		return fmt.Errorf("must be a unicast address of a remote router, got %s", a)
	case a.Is6() && a.IsLinkLocalUnicast():
		// A link-local peer is reached through its interface: configure the interface instead.
		return fmt.Errorf("IPv6 link-local peers are not supported (use interface for unnumbered), got %s", a)
	}
	return nil
}

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }
