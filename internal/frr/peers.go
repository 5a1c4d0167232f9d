package frr

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// The peer features of RHOSO-style compute nodes (peer groups, TTL security, allowas-in,
// inbound policy) and the instance's own options, as typed data, and how they are turned
// into the template's view in FRR 8.4's print form.

// Instance is the BGP instance's own options. Zero values are FRR's defaults.
type Instance struct {
	GracefulShutdown   bool // bgp graceful-shutdown
	ExplicitActivation bool // no bgp default ipv4-unicast: every family activated explicitly
	LogNeighborChanges bool
	Keepalive, Hold    uint16 // timers bgp; 0, 0 (or FRR's 60, 180): not rendered
}

// Install limits what zebra installs from BGP: only the default route (DefaultOnly), and/or
// with the node's own source address per family.
type Install struct {
	DefaultOnly            bool
	SourceIPv4, SourceIPv6 netip.Addr
}

// Log is FRR's log target. The zero value is syslog at informational.
type Log struct {
	Target             string // syslog, stdout or file; "": syslog
	File               string // for Target file
	Level              string // FRR's level name; "": informational
	TimestampPrecision uint8
}

// AllowASIn is a peer's allowas-in (config.AllowASIn).
type AllowASIn = config.AllowASIn

// Names the agent gives to what it renders for Install.
const (
	InstallRouteMap4 = "obgp-install4"
	InstallRouteMap6 = "obgp-install6"
	defaultOnly4     = "obgp-default-only4"
	defaultOnly6     = "obgp-default-only6"
)

// FRR 8.4 defaults that are never printed.
const (
	frrKeepalive = 60 // traditional defaults
	frrHold      = 180
	logDefault   = "debugging" // `log syslog debugging` is printed as `log syslog`
	allowASInDef = 3           // `allowas-in 3` is printed as `allowas-in`
)

// logLine is the `log ...` line's arguments as FRR prints them.
func logLine(l Log) string {
	target := cmp.Or(l.Target, "syslog")
	if target == "file" {
		target = "file " + l.File
	}
	if level := cmp.Or(l.Level, "informational"); level != logDefault {
		target += " " + level
	}
	return target
}

// timersLine is `timers bgp`'s arguments, "" for FRR's defaults.
func timersLine(i Instance) string {
	if (i.Keepalive == 0 && i.Hold == 0) || (i.Keepalive == frrKeepalive && i.Hold == frrHold) {
		return ""
	}
	return fmt.Sprintf("%d %d", i.Keepalive, i.Hold)
}

// allowASInLine is the argument part of `neighbor X allowas-in...`: "" for off, " " for
// the default count, or " origin" / " N".
func allowASInLine(a AllowASIn) (string, bool) {
	switch {
	case a.Origin:
		return " origin", true
	case a.Count == allowASInDef:
		return "", true
	case a.Count != 0:
		return " " + strconv.Itoa(int(a.Count)), true
	}
	return "", false
}

// networks are the `network` lines of family fam, in FRR's order.
func networks(ps []netip.Prefix, fam Family) []string {
	var out []netip.Prefix
	for _, p := range ps {
		if p.Addr().Is4() == (fam == IPv4) {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	out = slices.Compact(out)
	s := make([]string, len(out))
	for i, p := range out {
		s[i] = p.String()
	}
	return s
}

// installMap is a zebra route-map for the routes BGP installs in one family.
type installMap struct {
	Name, Family, Proto string // Family "ip" or "ipv6", for match and the protocol line
	PrefixList          string // "": no match, every route
	Src                 string // "": no set src
}

// addInstall adds the zebra route-maps (and prefix lists) that Install needs, one per family.
func (v *view) addInstall(in Install) {
	for _, fam := range []Family{IPv4, IPv6} {
		m := installMap{Name: InstallRouteMap4, Family: "ip"}
		src, list, any := in.SourceIPv4, defaultOnly4, "0.0.0.0/0"
		if fam == IPv6 {
			m = installMap{Name: InstallRouteMap6, Family: "ipv6"}
			src, list, any = in.SourceIPv6, defaultOnly6, "::/0"
		}
		if !in.DefaultOnly && !src.IsValid() {
			continue
		}
		if in.DefaultOnly {
			m.PrefixList = list
			pl := prefixList{Name: list, Entries: []string{"seq 5 permit " + any}}
			if fam == IPv4 {
				v.PrefixLists4 = append(v.PrefixLists4, pl)
			} else {
				v.PrefixLists6 = append(v.PrefixLists6, pl)
			}
		}
		if src.IsValid() {
			m.Src = src.String()
		}
		v.Install = append(v.Install, m)
	}
}

// communityList is a standard community list: one entry per community, so that a route with
// any of them matches.
type communityList struct {
	Name    string
	Entries []string // "seq N permit A:B"
}

func newCommunityList(name string, cs []config.Community) communityList {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, config.Community.Compare)
	cs = slices.Compact(cs)
	cl := communityList{Name: name}
	for i, c := range cs {
		cl.Entries = append(cl.Entries, fmt.Sprintf("seq %d permit %s", 5*(i+1), c))
	}
	return cl
}

// peerImportMap is the inbound route-map of a peer; nil when its policy has none.
func peerImportMap(name string, p Policy) *peerRouteMap {
	if len(p.ImportMatch) == 0 && p.ImportCommunities.Empty() && p.ImportLocalPreference == 0 {
		return nil
	}
	rm := &peerRouteMap{Name: name, LocalPref: p.ImportLocalPreference}
	if len(p.ImportMatch) > 0 {
		rm.MatchCommunity = name
	}
	if s := joinCommunities(p.ImportCommunities.Standard); s != "" {
		rm.Community = s + " additive"
	}
	if s := joinCommunities(p.ImportCommunities.Large); s != "" {
		rm.Large = s + " additive"
	}
	return rm
}

// guardPeerFeatures is guard for the features of this file.
func (c Config) guardPeerFeatures() []error {
	var errs []error
	bad := func(what, v string) { errs = append(errs, fmt.Errorf("%s %q cannot be rendered", what, v)) }
	groups := map[string]bool{}
	for _, g := range c.PeerGroups {
		if !word.MatchString(g.Group) || g.Addr.IsValid() || g.Interface != "" || g.PeerGroup != "" {
			bad("peer group", g.Group)
		}
		if g.RemoteAS.String() == "" {
			bad("remote-as of peer group", g.Group)
		}
		groups[g.Group] = true
	}
	for _, n := range c.Neighbors {
		if n.Group != "" {
			bad("peer group among the neighbors", n.Group)
		}
		if n.PeerGroup != "" && !groups[n.PeerGroup] {
			bad("peer group of neighbor "+n.Name(), n.PeerGroup)
		}
	}
	l := c.Log
	if !slices.Contains([]string{"", "syslog", "stdout", "file"}, l.Target) || (l.Target == "file") != (l.File != "") ||
		(l.File != "" && (!strings.HasPrefix(l.File, "/") || strings.ContainsFunc(l.File, func(r rune) bool { return r <= ' ' || r > '~' }))) {
		bad("log target", l.Target+" "+l.File)
	}
	if l.Level != "" && !slices.Contains(config.FRRLogLevels, l.Level) {
		bad("log level", l.Level)
	}
	for _, a := range []netip.Addr{c.Install.SourceIPv4, c.Install.SourceIPv6} {
		if a.IsValid() && a.Zone() != "" {
			bad("install source", a.String())
		}
	}
	if a := c.Install.SourceIPv4; a.IsValid() && !a.Is4() {
		bad("IPv4 install source", a.String())
	}
	if a := c.Install.SourceIPv6; a.IsValid() && !a.Is6() {
		bad("IPv6 install source", a.String())
	}
	return errs
}

// compareMembers is FRR's print order of peers when some are in peer groups: the members of
// groups first, by group name, then the peers without a group; within each, compareNeighbors.
func compareMembers(a, b Neighbor) int {
	switch {
	case a.PeerGroup != "" && b.PeerGroup == "":
		return -1
	case a.PeerGroup == "" && b.PeerGroup != "":
		return 1
	}
	return cmp.Or(strings.Compare(a.PeerGroup, b.PeerGroup), compareNeighbors(a, b))
}
