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
	ParseFS(templates.FS, templateName))

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
	GR           GracefulRestart
}

type viewNeighbor struct {
	Neighbor
	Name, RemoteAS, Iface string // Iface: "interface " for unnumbered peers
	V4, V6                viewAF
}

// viewAF is a neighbor's lines in one address family.
type viewAF struct {
	Name        string // the neighbor's
	Active      bool
	PrefixIn    string
	PrefixOut   string
	RouteMapOut string
}

type prefixList struct {
	Name    string
	Entries []string // "seq N permit|deny PREFIX [ge G] [le L]"
}

type peerRouteMap struct {
	Name      string
	Community string // "A:B C:D additive"
	Large     string
	LocalPref uint32
}

// Render validates c and returns frr.conf. The same Config always gives the same bytes.
func Render(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("frr config: %w", err)
	}
	v := view{ASN: c.ASN, NIC: c.NIC, VRF: c.VRF, RouteMap: RouteMap, Relax: c.Multipath.Relax,
		Community: joinCommunities(c.Communities.Standard), Large: joinCommunities(c.Communities.Large),
		ExtraConfig: c.ExtraConfig, Kernel: c.RedistributeKernel, Arriving: ArrivingMetric, ArrivingMED: ArrivingMED}
	if v.ExtraConfig != "" && !strings.HasSuffix(v.ExtraConfig, "\n") {
		v.ExtraConfig += "\n"
	}
	if c.RouterID.IsValid() {
		v.RouterID = c.RouterID.String()
	}
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

	neighbors := slices.Clone(c.Neighbors)
	slices.SortFunc(neighbors, compareNeighbors)
	for _, n := range neighbors {
		vn := viewNeighbor{Neighbor: n, Name: n.Name(), RemoteAS: n.RemoteAS.String()}
		if n.Interface != "" {
			vn.Iface = "interface "
			vn.ExtendedNexthop = false // implied for unnumbered peers; FRR does not print it
		}
		if n.BFD.Profile != "" {
			vn.BFD.Enabled = true // `bfd profile P` without the plain `bfd` line churns
		}
		if n.RemoteAS.Kind == Internal || n.RemoteAS.ASN == c.ASN {
			vn.EBGPMultihop = 0 // validated; never printed for iBGP
		}
		base := "obgp-" + vn.Name
		if rm := peerExportMap(base+"-out", n.Policy); rm != nil {
			v.RouteMaps = append(v.RouteMaps, *rm)
		}
		for _, fam := range []Family{IPv4, IPv6} {
			af := viewAF{Name: vn.Name, Active: n.Active(fam)}
			if af.Active {
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
func joinCommunities(cs []string) string {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b string) int {
		fa, fb := strings.Split(a, ":"), strings.Split(b, ":")
		for i := range min(len(fa), len(fb)) {
			na, _ := strconv.ParseUint(fa[i], 10, 32)
			nb, _ := strconv.ParseUint(fb[i], 10, 32)
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
		}
		return 0
	})
	return strings.Join(slices.Compact(cs), " ")
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
