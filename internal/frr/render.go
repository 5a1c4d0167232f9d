package frr

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/templates"
)

const templateName = "frr.conf.tmpl"

var confTemplate = template.Must(template.New(templateName).Option("missingkey=error").
	ParseFS(templates.FS, templateName, "agent-part.tmpl"))

// view is what the template sees: only validated values, already in FRR's print order and
// with FRR's defaults dropped, so the template has no decisions left but "print or not".
type view struct {
	ASN          uint32
	RouterID     string // "": omit
	NIC          string
	VRF          string
	RouteMap     string
	MaxPaths     uint16 // 0: omit
	MaxPathsIBGP uint16 // 0: omit
	Relax        bool
	Community    string // the redistribute route-map's `set community` argument; "": none
	Large        string
	Kinds        []kindEntry // per-kind entries of the redistribute route-map, before seq 10
	Arriving     uint32      // ArrivingMetric: the seq 9 entry for addresses arriving with a migration
	ArrivingMED  uint32
	Neighbors    []viewNeighbor
	PrefixLists4 []prefixList
	PrefixLists6 []prefixList
	RouteMaps    []peerRouteMap
	BFDProfiles  []BFDProfile
	ExtraConfig  string
	Kernel       bool // redistribute kernel too (tenant subnets as kernel routes)
	Originated   string
	// The peer features and instance options (peers.go).
	Inst           Instance
	LogLine        string // `log` line arguments, e.g. "syslog informational"
	LogPrecision   uint8
	TimersBGP      string // `timers bgp` arguments; "": FRR's default
	Networks4      []string
	Networks6      []string
	CommunityLists []communityList
	Install        []installMap
	NHT            bool
	GR             GracefulRestart
}

type viewNeighbor struct {
	Neighbor
	Name, RemoteAS, Iface string // Iface: "interface " for unnumbered peers
	V4, V6                viewAF
	IsGroup               bool
}

// viewAF is a neighbor's lines in one address family.
type viewAF struct {
	Name        string // the neighbor's
	Active      bool
	Originated  string // the as-path list every active family filters its exports with
	Activate    string // "activate", "no activate" or "": the activation line FRR prints
	AllowASIn   string // the allowas-in line's arguments, with AllowAS set
	AllowAS     bool
	PrefixIn    string
	PrefixOut   string
	RouteMapIn  string
	RouteMapOut string
}

type prefixList struct {
	Name    string
	Entries []string // "seq N permit|deny PREFIX [ge G] [le L]"
}

type peerRouteMap struct {
	Name           string
	MatchCommunity string // a community list's name; "": no match
	Community      string // "A:B C:D additive"
	Large          string
	LocalPref      uint32
}

// Render returns frr.conf for c, whose values internal/config validated. The same Config
// always gives the same bytes.
func Render(c Config) ([]byte, error) {
	if err := c.guard(); err != nil {
		return nil, fmt.Errorf("frr config: %w", err)
	}
	v := view{ASN: c.ASN, NIC: c.NIC, VRF: c.VRF, RouteMap: RouteMap, Relax: c.Multipath.Relax,
		Community: joinCommunities(c.Communities.Standard), Large: joinCommunities(c.Communities.Large),
		ExtraConfig: c.ExtraConfig, Kernel: c.RedistributeKernel, Arriving: ArrivingMetric, ArrivingMED: ArrivingMED,
		Originated: OriginatedList}
	if v.ExtraConfig != "" && !strings.HasSuffix(v.ExtraConfig, "\n") {
		v.ExtraConfig += "\n"
	}
	if c.RouterID.IsValid() {
		v.RouterID = c.RouterID.String()
	}
	v.Inst, v.TimersBGP, v.NHT = c.Instance, timersLine(c.Instance), c.NHTResolveViaDefault
	v.LogLine, v.LogPrecision = logLine(c.Log), c.Log.TimestampPrecision
	v.Networks4, v.Networks6 = networks(c.Networks, IPv4), networks(c.Networks, IPv6)
	v.addInstall(c.Install)
	v.Kinds = kindEntries(c.Communities, c.KindCommunities)
	v.GR = c.GracefulRestart
	if v.GR.RestartTime == grDefaultRestart {
		v.GR.RestartTime = 0 // FRR never prints its default
	}
	if v.GR.StalePathTime == grDefaultStalePath {
		v.GR.StalePathTime = 0
	}
	if c.Multipath.EBGP != MaxPathsDefault {
		v.MaxPaths = c.Multipath.EBGP
	}
	if c.Multipath.IBGP != MaxPathsDefault {
		v.MaxPathsIBGP = c.Multipath.IBGP
	}
	v.BFDProfiles = slices.Clone(c.BFDProfiles)
	slices.SortFunc(v.BFDProfiles, func(a, b BFDProfile) int { return strings.Compare(a.Name, b.Name) })
	for i, p := range v.BFDProfiles {
		// FRR's defaults are never printed: an explicit default would be a diff on every reload.
		if p.DetectMultiplier == bfdDefaultMultiplier {
			v.BFDProfiles[i].DetectMultiplier = 0
		}
		if p.ReceiveInterval == bfdDefaultInterval {
			v.BFDProfiles[i].ReceiveInterval = 0
		}
		if p.TransmitInterval == bfdDefaultInterval {
			v.BFDProfiles[i].TransmitInterval = 0
		}
	}

	// Peer groups first (by name, as FRR keeps them), then the peers in FRR's order.
	groups := slices.Clone(c.PeerGroups)
	slices.SortFunc(groups, func(a, b Neighbor) int { return strings.Compare(a.Group, b.Group) })
	neighbors := slices.Clone(c.Neighbors)
	slices.SortFunc(neighbors, compareMembers)
	for _, n := range append(groups, neighbors...) {
		vn := viewNeighbor{Neighbor: n, Name: n.Name(), RemoteAS: n.RemoteAS.String(), IsGroup: n.Group != ""}
		if n.Interface != "" {
			vn.Iface = "interface "
			vn.ExtendedNexthop = false // implied for unnumbered peers; FRR does not print it
		}
		if n.BFD.Profile != "" {
			vn.BFD.Enabled = true // `bfd profile P` without the plain `bfd` line churns
		}
		if n.RemoteAS.IsIBGP(c.ASN) {
			vn.EBGPMultihop = 0 // validated; never printed for iBGP
		}
		base := "obgp-" + vn.Name
		if rm := peerExportMap(base+"-out", n.Policy); rm != nil {
			v.RouteMaps = append(v.RouteMaps, *rm)
		}
		if rm := peerImportMap(base+"-in", n.Policy); rm != nil {
			v.RouteMaps = append(v.RouteMaps, *rm)
			if rm.MatchCommunity != "" {
				v.CommunityLists = append(v.CommunityLists, newCommunityList(rm.MatchCommunity, n.Policy.ImportMatch))
			}
		}
		for _, fam := range []Family{IPv4, IPv6} {
			af := viewAF{Name: vn.Name, Active: n.Active(fam), Originated: OriginatedList}
			switch {
			case n.PeerGroup != "": // a member prints nothing per family: the group does
				af.Active = false
			case af.Active && (fam == IPv6 || c.Instance.ExplicitActivation):
				af.Activate = "activate"
			case !af.Active && fam == IPv4 && !c.Instance.ExplicitActivation:
				af.Activate = "no activate" // FRR activates IPv4 by default
			}
			if af.Active {
				af.AllowASIn, af.AllowAS = allowASInLine(n.AllowASIn)
				if peerImportMap("", n.Policy) != nil {
					af.RouteMapIn = base + "-in"
				}
				suffix := "4"
				if fam == IPv6 {
					suffix = "6"
				}
				if n.Policy.Import != nil {
					af.PrefixIn = base + "-in" + suffix
					v.addPrefixList(fam, af.PrefixIn, n.Policy.Import)
				}
				if n.Policy.Export != nil {
					af.PrefixOut = base + "-out" + suffix
					v.addPrefixList(fam, af.PrefixOut, n.Policy.Export)
				}
				if peerExportMap("", n.Policy) != nil {
					af.RouteMapOut = base + "-out"
				}
			}
			if fam == IPv4 {
				vn.V4 = af
			} else {
				vn.V6 = af
			}
		}
		v.Neighbors = append(v.Neighbors, vn)
	}
	byName := func(a, b prefixList) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(v.PrefixLists4, byName)
	slices.SortFunc(v.PrefixLists6, byName)
	slices.SortFunc(v.RouteMaps, func(a, b peerRouteMap) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(v.CommunityLists, func(a, b communityList) int { return strings.Compare(a.Name, b.Name) })

	var buf bytes.Buffer
	if err := confTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render %s: %w", templateName, err)
	}
	return buf.Bytes(), nil
}

// peerExportMap is the outbound route-map that sets a peer's attributes; nil when none is set.
func peerExportMap(name string, p Policy) *peerRouteMap {
	if p.Communities.Empty() && p.LocalPreference == 0 {
		return nil
	}
	rm := &peerRouteMap{Name: name, LocalPref: p.LocalPreference}
	if s := joinCommunities(p.Communities.Standard); s != "" {
		rm.Community = s + " additive"
	}
	if s := joinCommunities(p.Communities.Large); s != "" {
		rm.Large = s + " additive"
	}
	return rm
}

// addPrefixList renders the rules of family fam as a prefix list with explicit seq numbers
// (FRR prints them, and entries without would be renumbered on every reload). A family with
// no rules gets a single deny, so a filter always means "only what is listed".
func (v *view) addPrefixList(fam Family, name string, rules []PrefixRule) {
	pl := prefixList{Name: name}
	seq := 5
	for _, r := range rules {
		if r.Prefix.Addr().Is4() != (fam == IPv4) {
			continue
		}
		action := "permit"
		if r.Deny {
			action = "deny"
		}
		pl.Entries = append(pl.Entries, fmt.Sprintf("seq %d %s %s", seq, action, formatRule(r)))
		seq += 5
	}
	if len(pl.Entries) == 0 {
		pl.Entries = []string{"seq 5 deny any"}
	}
	if fam == IPv4 {
		v.PrefixLists4 = append(v.PrefixLists4, pl)
	} else {
		v.PrefixLists6 = append(v.PrefixLists6, pl)
	}
}

// formatRule prints a prefix-list match the way FRR does: "any" for the whole space.
func formatRule(r PrefixRule) string {
	if r.Prefix.Bits() == 0 && r.Ge == 0 && int(r.Le) == r.Prefix.Addr().BitLen() {
		return "any"
	}
	s := r.Prefix.String()
	if r.Ge != 0 {
		s += " ge " + strconv.Itoa(int(r.Ge))
	}
	if r.Le != 0 {
		s += " le " + strconv.Itoa(int(r.Le))
	}
	return s
}

// joinCommunities sorts communities numerically and drops duplicates, as FRR does when it
// parses a `set community` line.
func joinCommunities[C interface {
	comparable
	Compare(C) int
	String() string
}](cs []C) string {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, C.Compare)
	cs = slices.Compact(cs)
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return strings.Join(out, " ")
}

// compareNeighbors is FRR's print order: unnumbered peers first, by interface name compared
// the way FRR compares interface names (digit runs as numbers), then IPv4 before IPv6 peers,
// each by address.
func compareNeighbors(a, b Neighbor) int {
	switch {
	case a.Interface != "" && b.Interface != "":
		return compareIfNames(a.Interface, b.Interface)
	case a.Interface != "":
		return -1
	case b.Interface != "":
		return 1
	}
	return a.Addr.Compare(b.Addr)
}

// compareIfNames orders names such as eth2 before eth10.
func compareIfNames(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, _ := strconv.ParseUint(a[:da], 10, 64)
			nb, _ := strconv.ParseUint(b[:db], 10, 64)
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
