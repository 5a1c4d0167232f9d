package kernel

import (
	"context"
	"net/netip"
	"slices"
	"strings"
)

// NodeAddresses returns the node's own addresses, outside the agent's NIC, each with the
// prefix length of the network it connects the node to: the infrastructure the exposure core
// must never capture (ovnstate.NodeFacts.Addresses). Loopback addresses are included: a
// prefix containing 127.0.0.1 is as wrong as one containing the uplink. Addresses on the
// given provider bridges (and their VLAN devices, BRIDGE.VID) come back as host prefixes: the provider network behind a bridge is
// where floating IPs and VMs live, so only the address itself is the node's.
//
// One link dump and one address dump, in which the NIC's (thousands of) addresses are skipped
// unparsed; cheap enough for every pass.
func (a *Applier) NodeAddresses(ctx context.Context, bridges []string) ([]netip.Prefix, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ready(); err != nil {
		return nil, err
	}
	links, err := retryDump("dump links", a.h.LinkList)
	if err != nil {
		return nil, err
	}
	skip, onBridge := -1, map[int]bool{}
	for _, l := range links {
		name := l.Attrs().Name
		if name == a.opts.NIC {
			skip = l.Attrs().Index
		}
		for _, b := range bridges {
			// The bridge itself, or the agent's VLAN device on it (br-ex.100).
			if name == b || strings.HasPrefix(name, b+".") {
				onBridge[l.Attrs().Index] = true
			}
		}
	}
	addrs, err := retryDump("dump addresses", func() ([]indexedAddr, error) {
		return a.addrDumpWhere(func(index int) bool { return index != skip })
	})
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, ad := range addrs {
		ones := ad.prefixLen
		if onBridge[ad.index] {
			ones = ad.ip.BitLen()
		}
		p := netip.PrefixFrom(ad.ip, ones)
		if p.IsValid() && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y netip.Prefix) int {
		if c := x.Addr().Compare(y.Addr()); c != 0 {
			return c
		}
		return x.Bits() - y.Bits()
	})
	return out, nil
}
