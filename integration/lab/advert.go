package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Advert is what one ToR holds from its BGP peers: prefix → next hops of its valid paths,
// sorted. Prefixes the ToR originates itself are not part of it.
type Advert map[string][]string

// Want is the exact advertised set expected at every ToR of a lab: ToR name → Advert. A ToR
// listed with an empty Advert must hold nothing from its peers.
type Want map[string]Advert

// Learned reads node's IPv4 and IPv6 unicast tables in one vtysh call and returns every
// prefix learned from a peer with its next hops. stale counts paths a GR helper keeps for a
// restarting peer (still forwarded on, but not refreshed yet).
func (l *Lab) Learned(ctx context.Context, node string) (a Advert, stale int, err error) {
	n := l.nodes[node]
	if n == nil || n.FRR == nil {
		return nil, 0, fmt.Errorf("no FRR on node %q", node)
	}
	out, err := n.FRR.Vtysh(ctx, "show bgp ipv4 unicast json", "show bgp ipv6 unicast json")
	if err != nil {
		return nil, 0, err
	}
	a = Advert{}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var t struct {
			Routes map[string][]struct {
				Valid    bool   `json:"valid"`
				Stale    bool   `json:"stale"`
				PeerID   string `json:"peerId"`
				Nexthops []struct {
					IP string `json:"ip"`
				} `json:"nexthops"`
			} `json:"routes"`
		}
		if err := dec.Decode(&t); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, 0, fmt.Errorf("parse show bgp json from %s: %w", node, err)
		}
		for prefix, paths := range t.Routes {
			for _, p := range paths {
				if !p.Valid || p.PeerID == "" || p.PeerID == "(unspec)" || len(p.Nexthops) == 0 {
					continue
				}
				if p.Stale {
					stale++
				}
				a[prefix] = append(a[prefix], p.Nexthops[0].IP)
			}
		}
	}
	for p := range a {
		slices.Sort(a[p])
		a[p] = slices.Compact(a[p])
	}
	return a, stale, nil
}

// Mismatch is how a ToR's Advert differs from the wanted one, as "PREFIX via NEXTHOP" entries.
type Mismatch struct {
	Stale   []string // held but not wanted (a prefix, or a next hop for it)
	Missing []string // wanted but not held
}

// OK reports whether the sets were equal.
func (m Mismatch) OK() bool { return len(m.Stale) == 0 && len(m.Missing) == 0 }

func (m Mismatch) String() string {
	if m.OK() {
		return "exact"
	}
	return fmt.Sprintf("stale %v, missing %v", m.Stale, m.Missing)
}

// Compare returns how got differs from want.
func Compare(want, got Advert) Mismatch {
	var m Mismatch
	for p, hops := range got {
		for _, h := range hops {
			if !slices.Contains(want[p], h) {
				m.Stale = append(m.Stale, p+" via "+h)
			}
		}
	}
	for p, hops := range want {
		for _, h := range hops {
			if !slices.Contains(got[p], h) {
				m.Missing = append(m.Missing, p+" via "+h)
			}
		}
	}
	sort.Strings(m.Stale)
	sort.Strings(m.Missing)
	return m
}

// CheckExact compares every ToR of want with what it holds. The error is a read failure.
func (l *Lab) CheckExact(ctx context.Context, want Want) (map[string]Mismatch, error) {
	out := map[string]Mismatch{}
	for tor, w := range want {
		got, _, err := l.Learned(ctx, tor)
		if err != nil {
			return nil, err
		}
		out[tor] = Compare(w, got)
	}
	return out, nil
}

// exact reports whether every ToR's mismatch is empty, and a summary of those that are not.
func exact(ms map[string]Mismatch) (bool, string) {
	var bad []string
	for _, tor := range sortedKeys(ms) {
		if !ms[tor].OK() {
			bad = append(bad, tor+": "+ms[tor].String())
		}
	}
	return len(bad) == 0, strings.Join(bad, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
