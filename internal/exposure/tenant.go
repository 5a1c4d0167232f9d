package exposure

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// tenantSubnet is a subnet behind a router gateway that the policy allows to expose.
type tenantSubnet struct {
	gw      *gateway
	lrpName string
	subnet  netip.Prefix
	via     netip.Addr
	refused bool
}

func (t tenantSubnet) object() string {
	return fmt.Sprintf("Logical_Router_Port %s (router %s)", t.lrpName, t.gw.router.Name)
}

// tenantSubnets returns the router's tenant subnets the policy selects, wherever the gateway
// is hosted.
func (c *computer) tenantSubnets(g *gateway) []tenantSubnet {
	pol := c.policy
	if !pol.TenantNetworks && !pol.IPv6GUATenantNetworks {
		return nil
	}
	var out []tenantSubnet
	for _, lrp := range g.router.Ports {
		if lrp.Name == g.lrp.Name {
			continue
		}
		object := fmt.Sprintf("Logical_Router_Port %s (router %s)", lrp.Name, g.router.Name)
		for _, n := range lrp.Networks {
			_, subnet, err := parseNetwork(n)
			if err != nil {
				c.finding(ReasonParse, object, nil, "%v", err)
				continue
			}
			isGUA6 := subnet.Addr().Is6() && netip.MustParsePrefix("2000::/3").Contains(subnet.Addr())
			switch {
			case !pol.TenantNetworks && !isGUA6:
				c.skip(subnet, KindTenantSubnet, object, "expose_tenant_networks is off and this is not a global-unicast IPv6 subnet")
				continue
			case len(pol.AddressScopes) > 0 && !slices.Contains(pol.AddressScopes, c.addressScope(lrp, subnet)):
				c.skip(subnet, KindTenantSubnet, object, "its address scope %q is not in address_scopes", c.addressScope(lrp, subnet))
				continue
			case pol.RequireSNATDisabled && c.st.SNATUnknown:
				c.finding(ReasonSource, object, []netip.Prefix{subnet}, "require_snat_disabled_for_tenant_networks is set, but the Southbound database does not say whether router %s SNATs %s; not advertised", g.router.Name, subnet)
				c.skip(subnet, KindTenantSubnet, object, "whether router %s SNATs it is unknown from the Southbound database (see findings)", g.router.Name)
				continue
			case pol.RequireSNATDisabled && snatted(g, subnet):
				c.skip(subnet, KindTenantSubnet, object, "router %s SNATs it and require_snat_disabled_for_tenant_networks is set", g.router.Name)
				continue
			}
			via, ok := g.via(subnet.Addr())
			if !ok {
				c.skip(subnet, KindTenantSubnet, object, "router %s's gateway has no %s address to route it through", g.router.Name, family(subnet.Addr()))
				continue
			}
			// Out of bounds before the overlap check: a /1 must not take part in it, or one
			// tenant could withdraw every other tenant's subnet.
			if min := pol.Bounds.min(subnet.Addr()); subnet.Bits() < min {
				c.finding(ReasonBounds, object, []netip.Prefix{subnet}, "tenant subnet %s is shorter than /%d (%s); not exposed, nor its VMs",
					subnet, min, pol.Bounds.key(subnet.Addr()))
				c.skip(subnet, KindTenantSubnet, object, "shorter than /%d (see findings)", min)
				continue
			}
			out = append(out, tenantSubnet{gw: g, lrpName: lrp.Name, subnet: subnet, via: via})
		}
	}
	return out
}

// addressScope returns the neutron address scope of a router port's subnet, from the peer
// switch port (where neutron writes it) or the router port itself.
func (c *computer) addressScope(lrp ovnstate.LogicalRouterPort, subnet netip.Prefix) string {
	key := "neutron:subnet_pool_addr_scope4"
	if subnet.Addr().Is6() {
		key = "neutron:subnet_pool_addr_scope6"
	}
	if s := c.routerPortLSP[lrp.Name].ExternalIDs[key]; s != "" {
		return s
	}
	return lrp.ExternalIDs[key]
}

// snatted reports whether the router has an SNAT rule covering subnet.
func snatted(g *gateway, subnet netip.Prefix) bool {
	for _, nat := range g.router.NAT {
		if nat.Type != "snat" {
			continue
		}
		if p, err := netip.ParsePrefix(nat.LogicalIP); err == nil && p.Masked().Overlaps(subnet) {
			return true
		}
		if a, err := netip.ParseAddr(nat.LogicalIP); err == nil && subnet.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// refuseOverlaps refuses tenant subnets that overlap, so that no tenant's traffic goes to
// another tenant's router. Subnets nest or are equal (CIDRs never partly overlap):
//   - a subnet that contains more specific tenant subnets is refused, and they are kept:
//     advertising it would send their traffic to the wrong router whenever theirs is not
//     preferred, and refusing them instead would let one tenant with a large CIDR withdraw
//     every tenant inside it;
//   - equal subnets on several router ports are all refused: nothing in OVN says which one
//     was there first.
//
// Every node sees the same subnets (hosted here or not), so every node refuses the same ones.
func refuseOverlaps(c *computer, ts []tenantSubnet) []tenantSubnet {
	slices.SortFunc(ts, func(a, b tenantSubnet) int {
		return cmp.Or(ComparePrefix(a.subnet, b.subnet), cmp.Compare(a.gw.router.Name, b.gw.router.Name), cmp.Compare(a.lrpName, b.lrpName))
	})
	// Sorted by address, then length: the subnets inside ts[i] follow it directly (ts[i]
	// contains their first address), and once one starts outside ts[i], none after does.
	for i := range ts {
		first, covered := -1, 0
		for j := i + 1; j < len(ts) && ts[i].subnet.Contains(ts[j].subnet.Addr()); j++ {
			if ts[j].subnet == ts[i].subnet {
				if !ts[i].refused || !ts[j].refused {
					c.finding(ReasonOverlap, ts[i].object(), []netip.Prefix{ts[i].subnet}, "tenant subnet %s is also on %s; neither is advertised", ts[i].subnet, ts[j].object())
					c.finding(ReasonOverlap, ts[j].object(), []netip.Prefix{ts[j].subnet}, "tenant subnet %s is also on %s; neither is advertised", ts[j].subnet, ts[i].object())
				}
				ts[i].refused, ts[j].refused = true, true
				continue
			}
			if first < 0 {
				first = j
			}
			covered++
		}
		if covered > 0 {
			ts[i].refused = true
			c.finding(ReasonOverlap, ts[i].object(), []netip.Prefix{ts[i].subnet, ts[first].subnet},
				"tenant subnet %s contains %d more specific tenant subnet(s), first %s of %s; it is not advertised, so that it cannot capture their traffic",
				ts[i].subnet, covered, ts[first].subnet, ts[first].object())
		}
	}
	return ts
}

// tenantNetworks exposes the accepted tenant subnets whose gateway is hosted here: the subnet
// itself (subnet method) or each bound VM port's address in it (host method), routed through
// the gateway.
func (c *computer) tenantNetworks(ts []tenantSubnet) {
	for _, t := range ts {
		why, here := t.gw.here(c)
		if t.refused {
			c.skip(t.subnet, KindTenantSubnet, t.object(), "overlaps another tenant subnet (see findings)")
			continue
		}
		w := t.gw.pn.wiring()
		w.Via = t.via
		if c.policy.TenantMethod == TenantSubnet {
			if !here {
				c.skip(t.subnet, KindTenantSubnet, t.object(), "%s", why)
				continue
			}
			c.expose(Exposure{Prefix: t.subnet, Kind: KindTenantSubnet, Object: t.object(), Wiring: w,
				Reason: fmt.Sprintf("tenant subnet behind router %s via %s: %s", t.gw.router.Name, t.via, why)}, nil)
			continue
		}
		ls := c.routerPortSwitch[t.lrpName]
		if ls == nil {
			continue
		}
		c.forEachVMPort(ls, func(p ovnstate.LogicalSwitchPort, object string, addrs []netip.Addr) {
			for _, a := range addrs {
				if !t.subnet.Contains(a) {
					continue
				}
				switch b, _ := c.binding(p.Name); {
				case !here:
					c.skip(HostPrefix(a), KindTenant, object, "%s", why)
				case b.Chassis == "":
					c.skip(HostPrefix(a), KindTenant, object, "tenant VM port %s is not bound to any chassis", p.Name)
				default:
					c.expose(Exposure{Prefix: HostPrefix(a), Kind: KindTenant, Object: object, Port: p.Name, Wiring: w,
						Reason: fmt.Sprintf("tenant VM port %s (bound to %s) on %s behind router %s via %s: %s",
							p.Name, b.Chassis, t.subnet, t.gw.router.Name, t.via, why)}, nil)
				}
			}
		})
	}
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
