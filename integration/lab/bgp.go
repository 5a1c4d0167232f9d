package lab

import (
	"context"
	"encoding/json"
	"fmt"
)

// Path is one BGP path for a prefix in a node's table.
type Path struct {
	NextHop    string
	PeerID     string
	Best       bool
	LastUpdate int64 // epoch seconds FRR last changed this path: a withdraw and re-announce moves it
}

type bgpTable struct {
	Routes map[string][]struct {
		Valid    bool   `json:"valid"`
		BestPath bool   `json:"bestpath"`
		PeerID   string `json:"peerId"`
		Nexthops []struct {
			IP string `json:"ip"`
		} `json:"nexthops"`
	} `json:"routes"`
}

// BGPRoutes returns the valid paths per prefix in node's BGP table for family ("ipv4" or
// "ipv6"), read with `show bgp <family> unicast json`.
func (l *Lab) BGPRoutes(ctx context.Context, node, family string) (map[string][]Path, error) {
	n := l.nodes[node]
	if n == nil || n.FRR == nil {
		return nil, fmt.Errorf("no FRR on node %q", node)
	}
	out, err := n.FRR.Vtysh(ctx, "show bgp "+family+" unicast json")
	if err != nil {
		return nil, err
	}
	var t bgpTable
	if err := json.Unmarshal([]byte(out), &t); err != nil {
		return nil, fmt.Errorf("parse show bgp json from %s: %w", node, err)
	}
	routes := map[string][]Path{}
	for prefix, paths := range t.Routes {
		for _, p := range paths {
			if !p.Valid {
				continue
			}
			path := Path{PeerID: p.PeerID, Best: p.BestPath}
			if len(p.Nexthops) > 0 {
				path.NextHop = p.Nexthops[0].IP
			}
			routes[prefix] = append(routes[prefix], path)
		}
	}
	return routes, nil
}

// PrefixLastUpdate returns when the best path of prefix last changed on node (epoch seconds).
func (l *Lab) PrefixLastUpdate(ctx context.Context, node, family, prefix string) (int64, error) {
	out, err := l.nodes[node].FRR.Vtysh(ctx, "show bgp "+family+" unicast "+prefix+" json")
	if err != nil {
		return 0, err
	}
	var r struct {
		Paths []struct {
			LastUpdate struct {
				Epoch int64 `json:"epoch"`
			} `json:"lastUpdate"`
			BestPath struct {
				Overall bool `json:"overall"`
			} `json:"bestpath"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return 0, fmt.Errorf("parse %s from %s: %w", prefix, node, err)
	}
	for _, p := range r.Paths {
		if p.BestPath.Overall {
			return p.LastUpdate.Epoch, nil
		}
	}
	return 0, fmt.Errorf("%s has no best path on %s", prefix, node)
}

// BGPSessionState returns the state of node's session with peer ("Established", ...).
func (l *Lab) BGPSessionState(ctx context.Context, node, peer string) (string, error) {
	out, err := l.nodes[node].FRR.Vtysh(ctx, "show bgp neighbors "+peer+" json")
	if err != nil {
		return "", err
	}
	var r map[string]struct {
		State string `json:"bgpState"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return "", fmt.Errorf("parse neighbors from %s: %w", node, err)
	}
	return r[peer].State, nil
}
