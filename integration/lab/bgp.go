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
	Multipath  bool  // used for forwarding alongside the best path (ECMP)
	MED        int   // multi-exit discriminator ("metric")
	LastUpdate int64 // epoch seconds FRR last changed this path: a withdraw and re-announce moves it
}

type bgpTable struct {
	Routes map[string][]struct {
		Valid     bool   `json:"valid"`
		BestPath  bool   `json:"bestpath"`
		Multipath bool   `json:"multipath"`
		Metric    int    `json:"metric"`
		PeerID    string `json:"peerId"`
		Nexthops  []struct {
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
			path := Path{PeerID: p.PeerID, Best: p.BestPath, Multipath: p.Multipath, MED: p.Metric}
			if len(p.Nexthops) > 0 {
				path.NextHop = p.Nexthops[0].IP
			}
			routes[prefix] = append(routes[prefix], path)
		}
	}
	return routes, nil
}

// PrefixVersion returns the BGP table version at which node last changed prefix. A withdraw
// followed by a re-announce moves it; a duplicate update does not. (The path's lastUpdate
// epoch is no use for this: FRR derives it from the wall clock minus monotonic uptime, and
// it jitters by a second between two reads of an unchanged path.)
func (l *Lab) PrefixVersion(ctx context.Context, node, family, prefix string) (int64, error) {
	out, err := l.nodes[node].FRR.Vtysh(ctx, "show bgp "+family+" unicast "+prefix+" json")
	if err != nil {
		return 0, err
	}
	var r struct {
		Prefix  string `json:"prefix"`
		Version int64  `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return 0, fmt.Errorf("parse %s from %s: %w", prefix, node, err)
	}
	if r.Prefix != prefix {
		return 0, fmt.Errorf("%s is not in the BGP table of %s", prefix, node)
	}
	if r.Version == 0 {
		// Received but not yet through best-path selection: bgpd runs it from a work queue.
		return 0, fmt.Errorf("%s on %s is not processed yet (version 0)", prefix, node)
	}
	return r.Version, nil
}

// SessionDrops returns how often node's session with peer has gone down since it was configured.
func (l *Lab) SessionDrops(ctx context.Context, node, peer string) (int, error) {
	out, err := l.nodes[node].FRR.Vtysh(ctx, "show bgp neighbors "+peer+" json")
	if err != nil {
		return 0, err
	}
	var r map[string]struct {
		Dropped int `json:"connectionsDropped"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return 0, fmt.Errorf("parse neighbors from %s: %w", node, err)
	}
	return r[peer].Dropped, nil
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

// PathAttrs are the attributes of a prefix's first path that tell exposure kinds apart.
type PathAttrs struct {
	Communities, LargeCommunities string // as FRR prints them, space-separated
	MED                           int
}

// PathAttrs reads the communities and MED of the first path for prefix in f's BGP table.
func (f *FRR) PathAttrs(ctx context.Context, family, prefix string) (PathAttrs, error) {
	out, err := f.Vtysh(ctx, "show bgp "+family+" unicast "+prefix+" json")
	if err != nil {
		return PathAttrs{}, err
	}
	var r struct {
		Paths []struct {
			Metric    int `json:"metric"`
			Community struct {
				String string `json:"string"`
			} `json:"community"`
			Large struct {
				String string `json:"string"`
			} `json:"largeCommunity"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return PathAttrs{}, fmt.Errorf("parse %s from %s: %w", prefix, f.Name, err)
	}
	if len(r.Paths) == 0 {
		return PathAttrs{}, fmt.Errorf("%s is not in the BGP table of %s", prefix, f.Name)
	}
	p := r.Paths[0]
	return PathAttrs{Communities: p.Community.String, LargeCommunities: p.Large.String, MED: p.Metric}, nil
}
