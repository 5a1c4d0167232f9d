package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// The peer features operators set on RHOSO-style compute nodes, typed: peer groups, TTL
// security, allowas-in, inbound policy, and the instance's own options (graceful shutdown,
// explicit activation, timers, network statements, what zebra installs, FRR's log target).

// groupName is a peer group's name: one FRR WORD that starts with a letter, so that it can
// never be read as an address.
var groupName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// validatePeerGroups checks bgp.peer_groups and returns them by name.
func validatePeerGroups(ps *problems, b BGP, profiles map[string]bool) map[string]int {
	ifaces := map[string]bool{}
	for _, p := range b.Peers {
		ifaces[p.Interface] = true
	}
	groups := make(map[string]int)
	for i, g := range b.PeerGroups {
		key := fmt.Sprintf("bgp.peer_groups[%d]", i)
		switch {
		case g.Name == "":
			ps.add(key+".name", "must be set: a peer group is named, and its peers name it in peer_group")
		case !groupName.MatchString(g.Name):
			ps.addGot(key+".name", g.Name, "must be 1..64 of A-Z a-z 0-9 _ . -, starting with a letter")
		case ifaces[g.Name]:
			ps.addGot(key+".name", g.Name, "is also a peer's interface; FRR names both the same way, rename the group")
		default:
			if j, dup := groups[g.Name]; dup {
				ps.addGot(key+".name", g.Name, "duplicates bgp.peer_groups[%d].name", j)
			} else {
				groups[g.Name] = i
			}
		}
		for field, set := range map[string]bool{"address": g.Address.IsValid(), "interface": g.Interface != "", "peer_group": g.PeerGroup != ""} {
			if set {
				ps.add(key+"."+field, "is not for a peer group; set it on the peers in bgp.peers")
			}
		}
		validatePeerOptions(ps, key, g, b.AS, profiles)
	}
	return groups
}

// memberKeys are what a peer in a group may set itself; everything else comes from the group.
var memberKeys = []string{"name", "address", "interface", "peer_group", "description"}

// validateGroupMember checks a peer with peer_group set and returns its name.
func validateGroupMember(ps *problems, key string, p Peer, groups map[string]int) string {
	name := validatePeerName(ps, key, p)
	j, ok := groups[p.PeerGroup]
	if !ok {
		ps.addGot(key+".peer_group", p.PeerGroup, "must name one of bgp.peer_groups")
		return name
	}
	if d := p.Description; d != "" && !oneLine(d, 80) {
		ps.addGot(key+".description", d,
			"must be at most 80 printable ASCII characters with single spaces between words and none at either end")
	}
	v, t := reflect.ValueOf(p), reflect.TypeFor[Peer]()
	for i := range t.NumField() {
		k := fieldKey(t.Field(i))
		if slices.Contains(memberKeys, k) || v.Field(i).IsZero() {
			continue
		}
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
			continue
		}
		ps.add(key+"."+k, "is taken from the peer group %s (bgp.peer_groups[%d].%s); set it there, or remove peer_group",
			p.PeerGroup, j, k)
	}
	return name
}

// validatePeerFeatures checks the options of a peer or group beyond the basic session.
func validatePeerFeatures(ps *problems, key string, p Peer) {
	if h := p.TTLSecurityHops; h != 0 {
		switch {
		case h > 254:
			ps.addGot(key+".ttl_security_hops", h, "must be 1..254, or 0 for off")
		case p.EBGPMultihop != 0:
			ps.addGot(key+".ttl_security_hops", h, "cannot be combined with ebgp_multihop (FRR refuses both); remove one")
		}
	}
}

// validateInstance checks the BGP instance's own options and FRR's log target.
func validateInstance(ps *problems, c Config) {
	b := c.BGP
	validateTimers(ps, "bgp.timers", Timers{Keepalive: b.Timers.Keepalive, Hold: b.Timers.Hold})
	seen := map[netip.Prefix]int{}
	for i, p := range b.Networks {
		key := fmt.Sprintf("bgp.networks[%d]", i)
		switch {
		case p.Addr().Zone() != "" || p.Addr().Is4In6():
			ps.addGot(key, p, "must be an IPv4 or IPv6 prefix without a zone")
		case p != p.Masked():
			ps.addGot(key, p, "must be a network address; write %s", p.Masked())
		default:
			if j, dup := seen[p]; dup {
				ps.addGot(key, p, "duplicates bgp.networks[%d]", j)
			}
			seen[p] = i
		}
	}
	if a := b.Install.SourceIPv4; a.IsValid() && (!a.Is4() || !a.IsGlobalUnicast()) {
		ps.addGot("bgp.install.source_ipv4", a, "must be a unicast IPv4 address of this node, or empty")
	}
	if a := b.Install.SourceIPv6; a.IsValid() && (!a.Is6() || a.Is4In6() || a.Zone() != "" || !a.IsGlobalUnicast()) {
		ps.addGot("bgp.install.source_ipv6", a, "must be a global unicast IPv6 address of this node, or empty")
	}

	l := c.FRR.Log
	oneOf(ps, "frr.log.target", l.Target, "syslog", "stdout", "file")
	switch {
	case l.Target == "file" && l.File == "":
		ps.add("frr.log.file", "must be set for frr.log.target file: the absolute path FRR logs to")
	case l.Target == "file" && (!filepath.IsAbs(l.File) || strings.ContainsFunc(l.File, func(r rune) bool { return r <= ' ' || r > '~' })):
		ps.addGot("frr.log.file", l.File, "must be an absolute path without spaces")
	case l.Target != "file" && l.File != "":
		ps.addGot("frr.log.file", l.File, "is only for frr.log.target file; remove it or set the target")
	}
	oneOf(ps, "frr.log.level", l.Level, FRRLogLevels...)
	if l.TimestampPrecision > 6 {
		ps.addGot("frr.log.timestamp_precision", l.TimestampPrecision, "must be 0..6 (digits after the second)")
	}
}

// FRRLogLevels are FRR's log level names, most severe first.
var FRRLogLevels = []string{"emergencies", "alerts", "critical", "errors", "warnings", "notifications", "informational", "debugging"}

// coOwnedKeys are the keys of this file that co-owned mode leaves to the operator's FRR file.
func coOwnedKeys(c Config) map[string]bool {
	b := c.BGP
	return map[string]bool{
		"bgp.peer_groups":             len(b.PeerGroups) > 0,
		"bgp.graceful_shutdown":       b.GracefulShutdown,
		"bgp.explicit_activation":     b.ExplicitActivation,
		"bgp.log_neighbor_changes":    b.LogNeighborChanges,
		"bgp.timers":                  b.Timers != BGPTimers{},
		"bgp.networks":                len(b.Networks) > 0,
		"bgp.install":                 b.Install != Install{},
		"frr.log":                     c.FRR.Log != Default().FRR.Log,
		"frr.nht_resolve_via_default": c.FRR.NHTResolveViaDefault,
	}
}
