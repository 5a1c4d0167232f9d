//go:build privileged

package ovn

// The state as Snapshot built it before the plain state (plain.go): every row of every
// table read and converted per pass. Kept as the reference the plain state is compared
// with (plain_component_test.go); not used by the agent.

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// oldNBRows are the NB rows of one snapshot.
type oldNBRows struct {
	switches    []nbdb.LogicalSwitch
	ports       []nbdb.LogicalSwitchPort
	routers     []nbdb.LogicalRouter
	routerPorts []nbdb.LogicalRouterPort
	nats        []nbdb.NAT
	lbs         []nbdb.LoadBalancer
	global      []nbdb.NBGlobal
}

// state copies the rows into plain data, joined by UUID and sorted. A reference to a row
// not (yet) in the cache is skipped: the event that brings it triggers another pass.
//
// The maps and slices inside are the cached rows' own, not copies: libovsdb never changes a
// cached row in place (an update stores a modified clone), and nothing reading a State
// modifies it. A State is read-only; whoever needs to change one copies first.
func (r oldNBRows) state() ovnstate.State {
	var st ovnstate.State
	if len(r.global) > 0 {
		st.NBGlobalExternalIDs = r.global[0].ExternalIDs
	}
	ports := byUUID(r.ports, func(p nbdb.LogicalSwitchPort) string { return p.UUID })
	for _, s := range r.switches {
		out := ovnstate.LogicalSwitch{UUID: s.UUID, Name: s.Name, ExternalIDs: s.ExternalIDs}
		for _, u := range s.Ports {
			if p, ok := ports[u]; ok {
				lsp := ovnstate.LogicalSwitchPort{
					UUID: p.UUID, Name: p.Name, Type: p.Type,
					Addresses:   p.Addresses,
					Options:     p.Options,
					ExternalIDs: p.ExternalIDs,
				}
				if p.Tag != nil {
					lsp.Tag = *p.Tag
				}
				out.Ports = append(out.Ports, lsp)
			}
		}
		sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Name < out.Ports[j].Name })
		st.Switches = append(st.Switches, out)
	}
	sort.Slice(st.Switches, func(i, j int) bool { return st.Switches[i].Name < st.Switches[j].Name })

	rports := byUUID(r.routerPorts, func(p nbdb.LogicalRouterPort) string { return p.UUID })
	nats := byUUID(r.nats, func(n nbdb.NAT) string { return n.UUID })
	lbs := byUUID(r.lbs, func(l nbdb.LoadBalancer) string { return l.UUID })
	for _, lr := range r.routers {
		out := ovnstate.LogicalRouter{UUID: lr.UUID, Name: lr.Name, ExternalIDs: lr.ExternalIDs}
		for _, u := range lr.Ports {
			if p, ok := rports[u]; ok {
				out.Ports = append(out.Ports, ovnstate.LogicalRouterPort{
					UUID: p.UUID, Name: p.Name, MAC: p.MAC, Networks: p.Networks,
					Options: p.Options, ExternalIDs: p.ExternalIDs,
				})
			}
		}
		for _, u := range lr.Nat {
			if n, ok := nats[u]; ok {
				out.NAT = append(out.NAT, ovnstate.NAT{
					UUID: n.UUID, Type: string(n.Type), ExternalIP: n.ExternalIP, LogicalIP: n.LogicalIP,
					ExternalMAC: deref(n.ExternalMAC), LogicalPort: deref(n.LogicalPort),
					ExternalIDs: n.ExternalIDs,
				})
			}
		}
		for _, u := range lr.LoadBalancer {
			if l, ok := lbs[u]; ok {
				out.LoadBalancers = append(out.LoadBalancers, ovnstate.LoadBalancer{
					UUID: l.UUID, Name: l.Name, VIPs: l.Vips, ExternalIDs: l.ExternalIDs,
				})
			}
		}
		sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Name < out.Ports[j].Name })
		slices.SortFunc(out.NAT, func(a, b ovnstate.NAT) int {
			return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ExternalIP, b.ExternalIP),
				cmp.Compare(a.LogicalIP, b.LogicalIP), cmp.Compare(a.UUID, b.UUID))
		})
		slices.SortFunc(out.LoadBalancers, func(a, b ovnstate.LoadBalancer) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
		})
		st.Routers = append(st.Routers, out)
	}
	slices.SortFunc(st.Routers, func(a, b ovnstate.LogicalRouter) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	return st
}

// oldSBRows are the SB rows of one snapshot of the SB-only engine.
type oldSBRows struct {
	bindings  []sbdb.PortBinding
	chassis   []sbdb.Chassis
	datapaths []sbdb.DatapathBinding
	lbs       []sbdb.LoadBalancer
	groups    []sbdb.LogicalDPGroup
}

func (r *oldSBRows) outs() []any {
	return []any{&r.bindings, &r.chassis, &r.datapaths, &r.lbs, &r.groups}
}

// oldSBBuild is one conversion of oldSBRows into plain state.
type oldSBBuild struct {
	st       ovnstate.State
	switches map[string]*ovnstate.LogicalSwitch // by datapath UUID
	routers  map[string]*ovnstate.LogicalRouter // by datapath UUID
	// routerOfPort maps a router port name to its router's datapath.
	routerOfPort map[string]string
	// peerSwitch maps a router port name to the datapath of the switch its peer is on.
	peerSwitch map[string]string
	// lbFIP maps a load balancer's name to the floating IP of its Octavia VIP port.
	lbFIP map[string]string
}

// state builds what the NB engine builds, from SB rows alone: a switch per switch datapath
// with its ports (patch ports become router-type ports), a router per router datapath with
// its ports (networks from the binding's mac), its floating IPs (from nat_addresses) and its
// load balancers. Rows it cannot read are Refused, never guessed at. SB carries no SNAT
// rules, so SNATUnknown is set.
func (r oldSBRows) state() ovnstate.State {
	b := &oldSBBuild{
		st:           ovnstate.State{SNATUnknown: true, Bindings: ovnstate.NewBindings(oldBuildBindings(r.bindings, r.chassis))},
		switches:     map[string]*ovnstate.LogicalSwitch{},
		routers:      map[string]*ovnstate.LogicalRouter{},
		routerOfPort: map[string]string{},
		peerSwitch:   map[string]string{},
		lbFIP:        map[string]string{},
	}
	b.datapaths(r.datapaths)
	bindings := slices.Clone(r.bindings)
	slices.SortFunc(bindings, func(x, y sbdb.PortBinding) int { return cmp.Compare(x.LogicalPort, y.LogicalPort) })
	for _, pb := range bindings {
		b.port(pb)
	}
	// Peers are known once every port is: the switch side of each router port.
	for _, pb := range bindings {
		if ls := b.switches[pb.Datapath]; ls != nil && pb.Type == "patch" && pb.Options["peer"] != "" {
			b.peerSwitch[pb.Options["peer"]] = pb.Datapath
		}
	}
	b.loadBalancers(r.lbs, r.groups)
	for _, pb := range bindings {
		if b.switches[pb.Datapath] == nil || pb.Type != "patch" {
			continue
		}
		if len(pb.NatAddresses) > 0 {
			b.natAddresses(pb)
		} else if peer := pb.Options["peer"]; b.isGatewayPort(peer) {
			// With nat-addresses=router northd lists at least the gateway's own address.
			b.refuse("Port_Binding "+pb.LogicalPort, nil, "switch port of gateway port %s has no nat_addresses "+
				"(options:nat-addresses=router, which neutron sets, is missing): its floating IPs cannot be read from the Southbound database", peer)
		}
	}
	return b.finish()
}

func (b *oldSBBuild) refuse(object string, prefixes []netip.Prefix, format string, args ...any) {
	b.st.Refused = append(b.st.Refused, ovnstate.Refusal{Object: object, Message: fmt.Sprintf(format, args...), Prefixes: prefixes})
}

// datapaths sorts datapaths into switches and routers by the external_ids ovn-northd sets.
func (b *oldSBBuild) datapaths(dps []sbdb.DatapathBinding) {
	for _, d := range dps {
		name := d.ExternalIDs["name"]
		if name == "" {
			name = d.UUID
		}
		switch {
		case d.ExternalIDs["logical-switch"] != "":
			b.switches[d.UUID] = &ovnstate.LogicalSwitch{UUID: d.ExternalIDs["logical-switch"], Name: name, ExternalIDs: maps.Clone(d.ExternalIDs)}
		case d.ExternalIDs["logical-router"] != "":
			b.routers[d.UUID] = &ovnstate.LogicalRouter{UUID: d.ExternalIDs["logical-router"], Name: name, ExternalIDs: maps.Clone(d.ExternalIDs)}
		default:
			b.refuse("Datapath_Binding "+d.UUID, nil, "external_ids names neither logical-switch nor logical-router; its ports are left out")
		}
	}
}

// port adds a binding to its switch or router. A binding whose datapath is not in the cache
// (yet) is left out: the event that brings the datapath triggers another pass.
func (b *oldSBBuild) port(pb sbdb.PortBinding) {
	object := "Port_Binding " + pb.LogicalPort
	if ls := b.switches[pb.Datapath]; ls != nil {
		// Neutron records a floating IP of an Octavia VIP port in its neutron:port_fip (NB
		// holds it in the load balancer's neutron:vip_fip, which SB does not copy).
		name := cmp.Or(pb.ExternalIDs["neutron:port_name"], pb.LogicalPort)
		if lb, ok := strings.CutPrefix(name, lbVIPPortPrefix); ok && lb != "" && pb.ExternalIDs["neutron:port_fip"] != "" {
			b.lbFIP[lb] = pb.ExternalIDs["neutron:port_fip"]
		}
		p := ovnstate.LogicalSwitchPort{UUID: pb.UUID, Name: pb.LogicalPort, Type: pb.Type,
			Addresses: slices.Clone(pb.MAC), Options: maps.Clone(pb.Options), ExternalIDs: maps.Clone(pb.ExternalIDs)}
		if pb.Tag != nil {
			p.Tag = *pb.Tag
		}
		if pb.Type == "patch" {
			// The switch side of a router port: NB's type=router, options:router-port.
			peer := pb.Options["peer"]
			if peer == "" {
				b.refuse(object, nil, "patch port without options:peer; its router is unknown")
				return
			}
			p.Type = "router"
			if p.Options == nil {
				p.Options = map[string]string{}
			}
			p.Options["router-port"] = peer
		}
		ls.Ports = append(ls.Ports, p)
		return
	}
	lr := b.routers[pb.Datapath]
	if lr == nil {
		return
	}
	switch pb.Type {
	case "patch", "l3gateway":
	default:
		return // chassisredirect ports are bindings only (State.Bindings), not router ports
	}
	mac, networks, err := routerPortMAC(pb.MAC)
	if err != nil {
		b.refuse(object, nil, "router port of %s: %v; the port is left out", lr.Name, err)
		return
	}
	lr.Ports = append(lr.Ports, ovnstate.LogicalRouterPort{UUID: pb.UUID, Name: pb.LogicalPort, MAC: mac, Networks: networks,
		Options: maps.Clone(pb.Options), ExternalIDs: maps.Clone(pb.ExternalIDs)})
	b.routerOfPort[pb.LogicalPort] = pb.Datapath
}

// loadBalancers attaches each SB load balancer to the routers it belongs to: a router whose
// datapath it is on, or whose tenant side (a switch behind a router port that is not the
// gateway) it is on, as the Octavia OVN provider attaches them. (OVN before 23.09 writes
// only load balancers on switches into SB.) The floating IP of its VIP port becomes its
// neutron:vip_fip, as in NB.
func (b *oldSBBuild) loadBalancers(lbs []sbdb.LoadBalancer, groups []sbdb.LogicalDPGroup) {
	group := byUUID(groups, func(g sbdb.LogicalDPGroup) string { return g.UUID })
	// switch datapath → routers with a non-gateway port on it
	behind := map[string][]string{}
	for port, sw := range b.peerSwitch {
		if rdp, ok := b.routerOfPort[port]; ok && !b.isGatewayPort(port) {
			behind[sw] = append(behind[sw], rdp)
		}
	}
	for _, l := range lbs {
		dps := slices.Clone(l.Datapaths)
		if l.DatapathGroup != nil {
			dps = append(dps, group[*l.DatapathGroup].Datapaths...)
		}
		var routers []string
		for _, dp := range dps {
			if _, ok := b.routers[dp]; ok {
				routers = append(routers, dp)
			}
			routers = append(routers, behind[dp]...)
		}
		slices.Sort(routers)
		ext := maps.Clone(l.ExternalIDs)
		if fip := b.lbFIP[l.Name]; fip != "" {
			if ext == nil {
				ext = map[string]string{}
			}
			ext["neutron:vip_fip"] = fip
		}
		for _, rdp := range slices.Compact(routers) {
			lr := b.routers[rdp]
			lr.LoadBalancers = append(lr.LoadBalancers, ovnstate.LoadBalancer{UUID: l.UUID, Name: l.Name,
				VIPs: maps.Clone(l.Vips), ExternalIDs: maps.Clone(ext)})
		}
	}
}

// isGatewayPort reports whether a router port has a chassis-redirect port (cr-lrp).
func (b *oldSBBuild) isGatewayPort(port string) bool {
	crp, ok := b.st.Bindings.Get("cr-" + port)
	return ok && crp.Type == "chassisredirect"
}

// natAddresses turns the nat_addresses of a router's gateway port (switch side) into the
// router's dnat_and_snat rules. An address resident on a VM port is a distributed floating
// IP of that port, with the entry's MAC as its external MAC. An address resident on the
// chassis-redirect port (or on no port) is served on the gateway chassis: a rule without
// logical_port, unless it is the router's own address, in a subnet behind the router (a
// tenant load-balancer VIP), or a VIP of one of the router's load balancers; those rules
// cover them.
func (b *oldSBBuild) natAddresses(pb sbdb.PortBinding) {
	object := "Port_Binding " + pb.LogicalPort
	lrpName := pb.Options["peer"]
	rdp, ok := b.routerOfPort[lrpName]
	if pb.Type != "patch" || !ok {
		return // not (yet) the switch side of a known router port
	}
	lr := b.routers[rdp]
	own, behind := b.routerAddresses(lr, lrpName)
	vips := oldLBVIPs(lr)
	var bad []string
	var badPrefixes []netip.Prefix
	for _, entry := range pb.NatAddresses {
		na, err := parseNATAddress(entry)
		if err != nil {
			bad = append(bad, err.Error())
			for _, f := range strings.Fields(entry) {
				if a, err := netip.ParseAddr(f); err == nil && a.Zone() == "" {
					badPrefixes = append(badPrefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				}
			}
			continue
		}
		resident, _ := b.st.Bindings.Get(na.Resident)
		gatewayServed := na.Resident == "" || resident.Type == "chassisredirect"
		for _, a := range na.IPs {
			nat := ovnstate.NAT{Type: "dnat_and_snat", ExternalIP: a.String()}
			if !gatewayServed {
				nat.LogicalPort, nat.ExternalMAC = na.Resident, na.MAC
			} else if own[a] || vips[a] || slices.ContainsFunc(behind, func(p netip.Prefix) bool { return p.Contains(a) }) {
				continue
			}
			lr.NAT = append(lr.NAT, nat)
		}
	}
	if len(bad) > 0 {
		b.refuse(object, badPrefixes, "nat_addresses of router %s's port %s: %s; those entries are left out", lr.Name, lrpName, strings.Join(bad, "; "))
	}
}

// routerAddresses returns the router's own addresses on gateway port gw, and the subnets of
// its other ports.
func (b *oldSBBuild) routerAddresses(lr *ovnstate.LogicalRouter, gw string) (map[netip.Addr]bool, []netip.Prefix) {
	own := map[netip.Addr]bool{}
	var behind []netip.Prefix
	for _, p := range lr.Ports {
		for _, n := range p.Networks {
			pfx, err := netip.ParsePrefix(n)
			if err != nil {
				continue // the core reports malformed networks
			}
			if p.Name == gw {
				own[pfx.Addr().Unmap()] = true
			} else {
				behind = append(behind, pfx.Masked())
			}
		}
	}
	return own, behind
}

// oldLBVIPs returns the VIP addresses of the router's load balancers, and their floating IPs.
func oldLBVIPs(lr *ovnstate.LogicalRouter) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, l := range lr.LoadBalancers {
		if a, err := netip.ParseAddr(l.ExternalIDs["neutron:vip_fip"]); err == nil {
			out[a.Unmap()] = true
		}
		for vip := range l.VIPs {
			if ap, err := netip.ParseAddrPort(vip); err == nil {
				out[ap.Addr().Unmap()] = true
			} else if a, err := netip.ParseAddr(strings.Trim(vip, "[]")); err == nil {
				out[a.Unmap()] = true
			}
		}
	}
	return out
}

// finish sorts everything as the NB engine does, so both engines give the core the same
// order.
func (b *oldSBBuild) finish() ovnstate.State {
	st := b.st
	for _, ls := range b.switches {
		slices.SortFunc(ls.Ports, func(x, y ovnstate.LogicalSwitchPort) int { return cmp.Compare(x.Name, y.Name) })
		st.Switches = append(st.Switches, *ls)
	}
	slices.SortFunc(st.Switches, func(x, y ovnstate.LogicalSwitch) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.UUID, y.UUID))
	})
	for _, lr := range b.routers {
		slices.SortFunc(lr.Ports, func(x, y ovnstate.LogicalRouterPort) int { return cmp.Compare(x.Name, y.Name) })
		slices.SortFunc(lr.NAT, func(x, y ovnstate.NAT) int {
			return cmp.Or(cmp.Compare(x.Type, y.Type), cmp.Compare(x.ExternalIP, y.ExternalIP), cmp.Compare(x.LogicalPort, y.LogicalPort))
		})
		lr.NAT = slices.CompactFunc(lr.NAT, func(x, y ovnstate.NAT) bool { return x.Type == y.Type && x.ExternalIP == y.ExternalIP })
		slices.SortFunc(lr.LoadBalancers, func(x, y ovnstate.LoadBalancer) int {
			return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.UUID, y.UUID))
		})
		st.Routers = append(st.Routers, *lr)
	}
	slices.SortFunc(st.Routers, func(x, y ovnstate.LogicalRouter) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.UUID, y.UUID))
	})
	slices.SortFunc(st.Refused, func(x, y ovnstate.Refusal) int { return cmp.Compare(x.Object, y.Object) })
	return st
}

func oldBuildBindings(bindings []sbdb.PortBinding, chassis []sbdb.Chassis) map[string]ovnstate.PortBinding {
	chassisName := make(map[string]string, len(chassis))
	for _, c := range chassis {
		chassisName[c.UUID] = c.Name
	}
	out := make(map[string]ovnstate.PortBinding, len(bindings))
	for _, b := range bindings {
		pb := ovnstate.PortBinding{LogicalPort: b.LogicalPort, Type: b.Type}
		if b.Chassis != nil {
			pb.Chassis = chassisName[*b.Chassis]
		}
		if b.RequestedChassis != nil {
			pb.RequestedChassis = chassisName[*b.RequestedChassis]
		}
		for _, u := range b.AdditionalChassis {
			if n := chassisName[u]; n != "" {
				pb.AdditionalChassis = append(pb.AdditionalChassis, n)
			}
		}
		sort.Strings(pb.AdditionalChassis)
		out[b.LogicalPort] = pb
	}
	return out
}

func byUUID[T any](rows []T, uuid func(T) string) map[string]T {
	m := make(map[string]T, len(rows))
	for _, r := range rows {
		m[uuid(r)] = r
	}
	return m
}
