package lab

import (
	"context"
	"fmt"
)

// CutLink makes the link at node:iface lose every packet in both directions while both ends
// keep carrier, as a failed optic or a dead switch in between would: nothing but a protocol
// timer (BFD, the BGP hold time) can notice. Each end gets a zero-length FIFO as its root
// qdisc, which drops everything sent. The namespaces' deletion removes it.
func (l *Lab) CutLink(ctx context.Context, node, iface string) error {
	ends, err := l.linkEnds(node, iface)
	if err != nil {
		return err
	}
	for _, e := range ends {
		if _, err := Run(ctx, l.nodes[e.Node].Netns, nil, "tc", "qdisc", "replace", "dev", e.Iface, "root", "pfifo", "limit", "0"); err != nil {
			return fmt.Errorf("cut %s:%s: %w", e.Node, e.Iface, err)
		}
	}
	return nil
}

// RestoreLink undoes CutLink.
func (l *Lab) RestoreLink(ctx context.Context, node, iface string) error {
	ends, err := l.linkEnds(node, iface)
	if err != nil {
		return err
	}
	for _, e := range ends {
		if _, err := Run(ctx, l.nodes[e.Node].Netns, nil, "tc", "qdisc", "del", "dev", e.Iface, "root"); err != nil {
			return fmt.Errorf("restore %s:%s: %w", e.Node, e.Iface, err)
		}
	}
	return nil
}

func (l *Lab) linkEnds(node, iface string) ([]Endpoint, error) {
	links, _ := l.topo.Links()
	for _, lk := range links {
		if lk.A == (Endpoint{node, iface}) || lk.B == (Endpoint{node, iface}) {
			return []Endpoint{lk.A, lk.B}, nil
		}
	}
	return nil, fmt.Errorf("no link at %s:%s", node, iface)
}
