package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Topology is the subset of a containerlab topology file the lab understands.
type Topology struct {
	Name     string `yaml:"name"`
	Topology struct {
		Nodes map[string]TopoNode `yaml:"nodes"`
		Links []struct {
			Endpoints []string `yaml:"endpoints"`
		} `yaml:"links"`
	} `yaml:"topology"`
	dir string // directory of the file: binds are relative to it
}

// TopoNode is one containerlab node.
type TopoNode struct {
	Kind   string            `yaml:"kind"`
	Image  string            `yaml:"image"`
	Labels map[string]string `yaml:"labels"`
	Binds  []string          `yaml:"binds"`
	Exec   []string          `yaml:"exec"`
}

// Role is the node's ovn-bgp-agent.role label: ovn-central, compute, tor or router (a plain
// namespace; FRR runs there only when /etc/frr/frr.conf is bound).
func (n TopoNode) Role() string { return n.Labels["ovn-bgp-agent.role"] }

// Endpoint is one side of a link.
type Endpoint struct{ Node, Iface string }

// Link joins two endpoints with a veth pair.
type Link struct{ A, B Endpoint }

// LoadTopology reads and checks a containerlab file.
func LoadTopology(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Topology
	if err := yaml.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.dir = filepath.Dir(path)
	for name, n := range t.Topology.Nodes {
		switch n.Role() {
		case "ovn-central", "compute", "tor", "router":
		default:
			return nil, fmt.Errorf("%s: node %s: label ovn-bgp-agent.role must be ovn-central, compute, tor or router, got %q", path, name, n.Role())
		}
		switch f := n.Labels["ovn-bgp-agent.frr"]; f {
		case "", "pod", "none":
		default:
			return nil, fmt.Errorf("%s: node %s: label ovn-bgp-agent.frr must be pod (FRR in the agent's pod) or none (no FRR, no agent), got %q", path, name, f)
		}
	}
	if _, err := t.Links(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// NodeNames returns the node names sorted.
func (t *Topology) NodeNames() []string {
	var names []string
	for n := range t.Topology.Nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Links parses the link endpoints ("node:iface").
func (t *Topology) Links() ([]Link, error) {
	var out []Link
	for i, l := range t.Topology.Links {
		if len(l.Endpoints) != 2 {
			return nil, fmt.Errorf("link %d: want 2 endpoints, got %d", i, len(l.Endpoints))
		}
		var eps [2]Endpoint
		for j, e := range l.Endpoints {
			node, iface, ok := strings.Cut(e, ":")
			if _, known := t.Topology.Nodes[node]; !ok || !known || iface == "" {
				return nil, fmt.Errorf("link %d: endpoint %q is not node:iface of a known node", i, e)
			}
			eps[j] = Endpoint{node, iface}
		}
		out = append(out, Link{eps[0], eps[1]})
	}
	return out, nil
}

// Bind returns the host file bound to target in node, resolved against the topology file.
func (t *Topology) Bind(node, target string) (string, bool) {
	for _, b := range t.Topology.Nodes[node].Binds {
		src, dst, ok := strings.Cut(b, ":")
		if ok && strings.TrimSuffix(dst, ":ro") == target {
			if !filepath.IsAbs(src) {
				src = filepath.Join(t.dir, src)
			}
			return src, true
		}
	}
	return "", false
}
