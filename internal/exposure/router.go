package exposure

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// gateway is a router's gateway port: an LRP with a chassis-redirect binding (cr-lrp) on a
// provider network.
type gateway struct {
	router  *ovnstate.LogicalRouter
	lrp     ovnstate.LogicalRouterPort
	chassis string // hosting chassis from SB; "" while unbound
	network *ovnstate.LogicalSwitch
	pn      providerNet
	ips     []netip.Addr   // the port's own addresses
	subnets []netip.Prefix // the provider subnets
}

func (g *gateway) object() string { return "Logical_Router_Port " + g.lrp.Name }

// here reports whether this node hosts the gateway, with the reason either way.
func (g *gateway) here(c *computer) (string, bool) {
	switch g.chassis {
	case c.node.Chassis:
		return fmt.Sprintf("router %s's gateway port %s is hosted on this chassis (%s)", g.router.Name, g.lrp.Name, g.chassis), true
	case "":
		return fmt.Sprintf("router %s's gateway port %s is not hosted on any chassis", g.router.Name, g.lrp.Name), false
	default:
		return fmt.Sprintf("router %s's gateway port %s is hosted on chassis %s", g.router.Name, g.lrp.Name, g.chassis), false
	}
}

// via returns the gateway's own address of a's family: the next hop for prefixes behind it.
func (g *gateway) via(a netip.Addr) (netip.Addr, bool) {
	for _, ip := range g.ips {
		if ip.Is4() == a.Is4() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func (g *gateway) inProviderSubnet(a netip.Addr) bool {
	for _, s := range g.subnets {
		if s.Contains(a) {
			return true
		}
	}
	return false
}

// routers handles everything behind logical routers. Tenant subnets are first collected
// from every router, hosted here or not, so that every node refuses the same overlapping
// subnets.
func (c *computer) routers() {
	var tenants []tenantSubnet
	for i := range c.st.Routers {
		lr := &c.st.Routers[i]
		gw := c.gatewayOf(lr)
		if gw == nil {
			continue
		}
		c.gatewayPort(gw)
		c.floatingIPs(gw)
		c.loadBalancers(gw)
		tenants = append(tenants, c.tenantSubnets(gw)...)
	}
	c.tenantNetworks(refuseOverlaps(c, tenants))
}

// gatewayOf returns the router's gateway port on a provider network, or nil. A router with
// several is reported and its first (by name) is used.
func (c *computer) gatewayOf(lr *ovnstate.LogicalRouter) *gateway {
	var gws []*gateway
	for _, lrp := range lr.Ports {
		b, ok := c.binding("cr-" + lrp.Name)
		if !ok || b.Type != "chassisredirect" {
			continue
		}
		object := "Logical_Router_Port " + lrp.Name
		ls := c.routerPortSwitch[lrp.Name]
		if ls == nil {
			c.finding(ReasonTopology, object, nil, "gateway port of router %s has no switch port with options:router-port=%s", lr.Name, lrp.Name)
			continue
		}
		pn, isProvider := c.provider[ls.Name]
		if !isProvider {
			continue // a gateway on a tenant network: nothing to advertise from it
		}
		g := &gateway{router: lr, lrp: lrp, chassis: b.Chassis, network: ls, pn: pn}
		for _, n := range lrp.Networks {
			a, subnet, err := parseNetwork(n)
			if err != nil {
				c.finding(ReasonParse, object, nil, "%v", err)
				continue
			}
			g.ips = append(g.ips, a)
			g.subnets = append(g.subnets, subnet)
		}
		if g.chassis == c.node.Chassis && pn.bridge == "" {
			c.finding(ReasonTopology, object, hostPrefixes(g.ips), "gateway is hosted on this chassis but provider network %s (%s) is not in ovn-bridge-mappings", ls.Name, pn.physnet)
			g.chassis = "" // nothing here can be wired; advertising would black-hole traffic
		}
		gws = append(gws, g)
	}
	if len(gws) == 0 {
		return nil
	}
	if len(gws) > 1 {
		c.finding(ReasonTopology, "Logical_Router "+lr.Name, nil, "has %d gateway ports on provider networks; using %s", len(gws), gws[0].lrp.Name)
	}
	return gws[0]
}

// gatewayPort exposes the gateway port's own addresses on the chassis hosting it. The MAC
// lets the kernel reach the gateway without ARP.
func (c *computer) gatewayPort(g *gateway) {
	why, here := g.here(c)
	for _, a := range g.ips {
		if !here {
			c.skip(HostPrefix(a), KindGateway, g.object(), "%s", why)
			continue
		}
		w := g.pn.wiring()
		w.MAC = g.lrp.MAC
		c.expose(Exposure{Prefix: HostPrefix(a), Kind: KindGateway, Object: g.object(), Wiring: w,
			Reason: fmt.Sprintf("%s on provider network %s (%s→%s)", why, g.network.Name, g.pn.physnet, g.pn.bridge)}, g.network)
	}
}

// fipDistributed reads NB_Global external_ids:neutron:fip-distributed; neutron writes
// "True" or "False", and distributed is its default.
func (c *computer) fipDistributed() bool {
	v, ok := c.st.NBGlobalExternalIDs["neutron:fip-distributed"]
	return !ok || !strings.EqualFold(v, "false")
}

// floatingIPs exposes the router's dnat_and_snat rules where OVN answers for them. A
// distributed floating IP (fip-distributed, and the rule has both logical_port and
// external_mac) is served on the chassis of its VM port. Every other one OVN serves on the
// chassis hosting the gateway: centralized ones, and those without logical_port or without
// external_mac (neutron sets the MAC once the port is bound; until then OVN centralizes it).
func (c *computer) floatingIPs(g *gateway) {
	distributed := c.fipDistributed()
	for _, nat := range g.router.NAT {
		if nat.Type != "dnat_and_snat" {
			continue
		}
		object := fmt.Sprintf("NAT %s (router %s)", nat.ExternalIP, g.router.Name)
		fip, err := parseHostIP(nat.ExternalIP)
		if err != nil {
			c.finding(ReasonParse, object, nil, "external_ip: %v", err)
			continue
		}
		p := HostPrefix(fip)
		if nat.LogicalPort != "" && c.isLBVIPPort(nat.LogicalPort) {
			c.skip(p, KindFIP, object, "points to load-balancer VIP port %s: exposed as a load-balancer floating IP", nat.LogicalPort)
			continue
		}
		var why string
		here := false
		switch b, _ := c.binding(nat.LogicalPort); {
		case nat.LogicalPort == "":
			gwhy, ghere := g.here(c)
			why, here = "floating IP without logical_port, which OVN serves on the gateway chassis: "+gwhy, ghere
		case b.Chassis == "":
			why = fmt.Sprintf("its VM port %s is not bound to any chassis", nat.LogicalPort)
		case distributed && nat.ExternalMAC != "":
			vwhy, vhere := c.boundHere(nat.LogicalPort)
			why, here = fmt.Sprintf("distributed floating IP of VM port %s, which %s", nat.LogicalPort, vwhy), vhere
		case distributed:
			gwhy, ghere := g.here(c)
			why, here = fmt.Sprintf("floating IP of VM port %s (bound to %s) without external_mac, which OVN serves on the gateway chassis: %s", nat.LogicalPort, b.Chassis, gwhy), ghere
		default:
			gwhy, ghere := g.here(c)
			why, here = fmt.Sprintf("centralized floating IP of VM port %s (bound to %s): %s", nat.LogicalPort, b.Chassis, gwhy), ghere
		}
		if !here {
			c.skip(p, KindFIP, object, "%s", why)
			continue
		}
		c.expose(Exposure{Prefix: p, Kind: KindFIP, Object: object, Wiring: g.pn.wiring(),
			Reason: fmt.Sprintf("%s; provider network %s (%s→%s)", why, g.network.Name, g.pn.physnet, g.pn.bridge)}, g.network)
	}
}

// isLBVIPPort reports whether a port is an Octavia OVN-provider VIP port.
func (c *computer) isLBVIPPort(name string) bool {
	if strings.HasPrefix(name, "ovn-lb-vip-") {
		return true
	}
	ls := c.switchOfPort(name)
	if ls == nil {
		return false
	}
	for _, p := range ls.Ports {
		if p.Name == name {
			return strings.HasPrefix(p.ExternalIDs["neutron:device_owner"], "Octavia")
		}
	}
	return false
}

// loadBalancers exposes, on the chassis hosting the gateway: VIPs on the provider network,
// the floating IPs of VIPs (external_ids:neutron:vip_fip) and port-forwarding floating IPs
// (load balancers named pf-floatingip-*). Traffic for all of them is answered by the
// gateway port, so it must enter OVN there.
func (c *computer) loadBalancers(g *gateway) {
	why, here := g.here(c)
	for _, lb := range g.router.LoadBalancers {
		object := fmt.Sprintf("Load_Balancer %s (router %s)", lb.Name, g.router.Name)
		kind := KindLBVIP
		if strings.HasPrefix(lb.Name, "pf-floatingip-") || lb.ExternalIDs["neutron:device_owner"] == "port_forwarding_plugin" {
			kind = KindPortForward
		}
		var ips []netip.Addr
		for _, vip := range slices.Sorted(maps.Keys(lb.VIPs)) {
			a, err := parseVIP(vip)
			if err != nil {
				c.finding(ReasonParse, object, nil, "vips: %v", err)
				continue
			}
			if kind == KindLBVIP && !g.inProviderSubnet(a) {
				c.skip(HostPrefix(a), kind, object, "VIP is not on provider network %s (only provider-network VIPs and floating IPs are advertised)", g.network.Name)
				continue
			}
			ips = append(ips, a)
		}
		if kind == KindLBVIP {
			if s := lb.ExternalIDs["neutron:vip_fip"]; s != "" {
				if a, err := parseHostIP(s); err != nil {
					c.finding(ReasonParse, object, nil, "external_ids:neutron:vip_fip: %v", err)
				} else {
					c.exposeLB(g, KindLBFIP, a, object, why, here)
				}
			}
		}
		slices.SortFunc(ips, netip.Addr.Compare)
		for _, a := range slices.Compact(ips) {
			c.exposeLB(g, kind, a, object, why, here)
		}
	}
}

func (c *computer) exposeLB(g *gateway, kind Kind, a netip.Addr, object, why string, here bool) {
	if !here {
		c.skip(HostPrefix(a), kind, object, "%s", why)
		return
	}
	c.expose(Exposure{Prefix: HostPrefix(a), Kind: kind, Object: object, Wiring: g.pn.wiring(),
		Reason: fmt.Sprintf("%s %s: %s", kind, a, why)}, g.network)
}

func hostPrefixes(addrs []netip.Addr) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, HostPrefix(a))
	}
	return out
}
