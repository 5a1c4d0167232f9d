package frr

import (
	"slices"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// Per-kind communities without per-IP state in frr.conf.
//
// The carrier is the address's route metric. Linux keeps a metric per address
// (IFA_RT_PRIORITY, `ip addr add A/32 dev bgp-nic metric N`); zebra reads it into the
// connected route's metric (`show ip route` prints [0/N]), bgpd redistributes the connected
// route with N as its MED, and one route-map entry per kind on the redistribute route-map
// matches it (`match metric N`), sets the kind's communities and resets the MED to 0. The
// addresses stay on bgp-nic, `match interface bgp-nic` stays, frr.conf holds one entry per
// kind, never per IP. Verified on FRR 8.4.4 for IPv4 /32 and IPv6 /128, including a metric
// changed in place with `ip addr change` (RTM_NEWADDR + NLM_F_REPLACE): zebra and bgpd follow
// and the community changes.
//
// What the kernel side must do: put every address of kind K on bgp-nic with
// IFA_RT_PRIORITY = KindMetric(K); when a prefix's kind changes, replace the address with the
// new metric (no delete, so no withdraw). An address with no kind entry, or metric 0, gets
// only the global communities.

// ArrivingMetric marks an address that has just arrived on this node with a live migration
// (exposure.ArrivingMetric): the redistribute route-map gives it ArrivingMED.
const ArrivingMetric = exposure.ArrivingMetric

// ArrivingMED is the MED of an arriving address: worse than the 0 of every other path.
const ArrivingMED = 100

// KindMetric is the route metric (IFA_RT_PRIORITY) the kernel side gives the addresses of
// kind k on bgp-nic, so that FRR can tell the kinds apart; 0 for an unknown kind.
func KindMetric(k exposure.Kind) uint32 { return k.Metric() }

// KindCommunities are the communities of one exposure kind, on top of the global ones.
type KindCommunities struct {
	Kind exposure.Kind
	Communities
}

// kindEntry is one kind's entry on the redistribute route-map.
type kindEntry struct {
	Seq       int
	Metric    uint32
	Community string
	Large     string
}

// kindEntries renders the per-kind route-map entries, sequenced before the catch-all entry 10
// in the fixed order of exposure.Kinds, so an entry keeps its seq whatever else is configured.
func kindEntries(global Communities, kinds []KindCommunities) []kindEntry {
	var out []kindEntry
	for i, k := range exposure.Kinds {
		j := slices.IndexFunc(kinds, func(c KindCommunities) bool { return c.Kind == k })
		if j < 0 || kinds[j].Empty() {
			continue
		}
		c := kinds[j]
		out = append(out, kindEntry{
			Seq:       i + 1,
			Metric:    k.Metric(),
			Community: joinCommunities(append(slices.Clone(global.Standard), c.Standard...)),
			Large:     joinCommunities(append(slices.Clone(global.Large), c.Large...)),
		})
	}
	return out
}
