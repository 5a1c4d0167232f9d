package ovn

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// dialSBOnly connects to the Southbound database for the ovn_bgp_driver engine, which reads
// nothing else: the topology comes from what ovn-northd wrote into SB. Each table and column
// says why it is monitored.
func dialSBOnly(ctx context.Context, conn remote, ev *events, log *slog.Logger) (client.Client, error) {
	sbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sbdb.PortBindingTable:     &sbdb.PortBinding{},
		sbdb.ChassisTable:         &sbdb.Chassis{},
		sbdb.DatapathBindingTable: &sbdb.DatapathBinding{},
		sbdb.LoadBalancerTable:    &sbdb.LoadBalancer{},
		sbdb.LogicalDPGroupTable:  &sbdb.LogicalDPGroup{},
	})
	if err != nil {
		return nil, err
	}
	var (
		pb sbdb.PortBinding
		ch sbdb.Chassis
		dp sbdb.DatapathBinding
		lb sbdb.LoadBalancer
		dg sbdb.LogicalDPGroup
	)
	return dialRetry(ctx, "SB", conn, sbModel, ev, log,
		// Port bindings are the ports: type tells VM, virtual, localnet, patch (router) and
		// chassisredirect (gateway) ports apart; datapath is the switch or router they are on;
		// chassis, additional_chassis and requested_chassis where they are bound (live
		// migration); mac the VM addresses, or a router port's MAC and networks; options
		// network_name (localnet), peer (patch) and virtual-ip; external_ids the neutron keys
		// northd copies from NB (neutron:cidrs, neutron:device_owner, address scopes);
		// nat_addresses the floating IPs and the addresses a gateway serves; tag the VLAN of
		// a localnet port.
		client.WithTable(&pb, &pb.LogicalPort, &pb.Type, &pb.Datapath, &pb.Chassis, &pb.AdditionalChassis,
			&pb.RequestedChassis, &pb.MAC, &pb.Options, &pb.ExternalIDs, &pb.NatAddresses, &pb.Tag),
		// Chassis: the names bindings refer to.
		client.WithTable(&ch, &ch.Name),
		// Datapaths: which are switches and which routers, and their names.
		client.WithTable(&dp, &dp.ExternalIDs),
		// Load balancers: VIPs, and the datapaths that tie them to a router.
		client.WithTable(&lb, &lb.Name, &lb.Vips, &lb.Datapaths, &lb.DatapathGroup, &lb.ExternalIDs),
		// Datapath groups: a load balancer's datapaths when it is on several.
		client.WithTable(&dg, &dg.Datapaths))
}

// sbRows are SB rows as whole tables: what the tests and benchmarks build state from.
type sbRows struct {
	bindings  []sbdb.PortBinding
	chassis   []sbdb.Chassis
	datapaths []sbdb.DatapathBinding
	lbs       []sbdb.LoadBalancer
	groups    []sbdb.LogicalDPGroup
}

// state builds the state of rows the way sbState assembles it from the cache.
func (r sbRows) state() ovnstate.State {
	s := newSBState()
	for i := range r.chassis {
		s.bindings.chassis.rows[r.chassis[i].UUID], _ = toChassisName(&r.chassis[i])
	}
	for i := range r.bindings {
		s.bindings.rows.rows[r.bindings[i].UUID], _ = toSBBinding(&r.bindings[i])
		s.ports.rows[r.bindings[i].UUID] = r.bindings[i]
	}
	for _, d := range r.datapaths {
		s.datapaths.rows[d.UUID] = d
	}
	for _, l := range r.lbs {
		s.lbs.rows[l.UUID] = l
	}
	for _, g := range r.groups {
		s.groups.rows[g.UUID] = g
	}
	s.bindings.rebuild()
	s.rebuild()
	return s.state()
}

// lbVIPPortPrefix names the Octavia OVN provider's VIP ports: "ovn-lb-vip-<load balancer>".
const lbVIPPortPrefix = "ovn-lb-vip-"

// sbTables are the SB tables sbState reads, in the order read takes their row caches.
var sbTables = []string{sbdb.PortBindingTable, sbdb.ChassisTable, sbdb.DatapathBindingTable,
	sbdb.LoadBalancerTable, sbdb.LogicalDPGroupTable}

// sbState builds what the NB engine builds, from SB rows alone: a switch per switch datapath
// with its ports (patch ports become router-type ports), a router per router datapath with
// its ports (networks from the binding's mac), its floating IPs (from nat_addresses) and its
// load balancers. Rows it cannot read are Refused, never guessed at. SB carries no SNAT
// rules, so SNATUnknown is set.
//
// A binding is converted once, when it changes, into what it contributes (sbPortView). The
// switches' port lists are edited port by port. The routers are assembled again, from the
// few rows that make them (router ports, the switches' patch ports, chassis-redirect ports,
// load balancers), only when one of those changed: a VM port's binding changing chassis
// touches only State.Bindings.
type sbState struct {
	bindings  *bindingsState
	ports     plainTable[sbdb.PortBinding]
	datapaths plainTable[sbdb.DatapathBinding]
	lbs       plainTable[sbdb.LoadBalancer]
	groups    plainTable[sbdb.LogicalDPGroup]

	dps     sbDatapaths
	views   map[string]sbPortView                              // by binding UUID
	refused map[string]ovnstate.Refusal                        // the views' refusals, by binding UUID
	onDP    refs                                               // datapath UUID → its bindings
	lists   map[string]*sortedList[ovnstate.LogicalSwitchPort] // by switch datapath

	switches      []ovnstate.LogicalSwitch
	routers       []ovnstate.LogicalRouter
	routerRefused []ovnstate.Refusal
}

func newSBState() *sbState {
	return &sbState{
		bindings:  newBindingsState(),
		ports:     newPlainTable(shallowRow[sbdb.PortBinding]),
		datapaths: newPlainTable(shallowRow[sbdb.DatapathBinding]),
		lbs:       newPlainTable(shallowRow[sbdb.LoadBalancer]),
		groups:    newPlainTable(shallowRow[sbdb.LogicalDPGroup]),
		views:     map[string]sbPortView{},
		refused:   map[string]ovnstate.Refusal{},
		onDP:      newRefs(),
		lists:     map[string]*sortedList[ovnstate.LogicalSwitchPort]{},
	}
}

// shallowRow is a row as a value sharing the row's maps and slices, which nothing changes.
func shallowRow[T any](m model.Model) (T, bool) {
	p, ok := m.(*T)
	if !ok {
		var zero T
		return zero, false
	}
	return *p, true
}

func (s *sbState) read(rc []*cache.RowCache, dirty map[string]map[string]struct{}, all bool) {
	s.bindings.read(rc[0], rc[1], dirty, all)
	pCh, pFull := s.ports.sync(rc[0], dirty[sbdb.PortBindingTable], all)
	dCh, dFull := s.datapaths.sync(rc[2], dirty[sbdb.DatapathBindingTable], all)
	lCh, lFull := s.lbs.sync(rc[3], dirty[sbdb.LoadBalancerTable], all)
	gCh, gFull := s.groups.sync(rc[4], dirty[sbdb.LogicalDPGroupTable], all)
	if pFull || dFull || lFull || gFull {
		s.rebuild()
		return
	}
	routers := len(lCh) > 0 || len(gCh) > 0 || len(dCh) > 0
	edits := map[string]map[string]*ovnstate.LogicalSwitchPort{} // switch datapath → binding → port or nil
	// Bindings whose row changed, and those on a datapath that changed (a network or router
	// created, deleted or renamed: whether its bindings are switch or router ports follows
	// the datapath), are viewed again.
	again := map[string]struct{}{}
	for _, c := range pCh {
		if c.hadOld {
			s.onDP.remove(c.old.Datapath, c.uuid)
		}
		if c.has {
			s.onDP.add(c.new.Datapath, c.uuid)
		}
		again[c.uuid] = struct{}{}
	}
	if len(dCh) > 0 {
		s.dps = classifyDatapaths(s.datapaths.rows)
		for _, c := range dCh {
			if _, ok := s.dps.switches[c.uuid]; !ok {
				delete(s.lists, c.uuid)
			} else if s.lists[c.uuid] == nil {
				s.lists[c.uuid] = newSortedList(compareSwitchPorts, switchPortUUID)
			}
			for u := range s.onDP.of(c.uuid) {
				again[u] = struct{}{}
			}
		}
	}
	for u := range again {
		old, had := s.views[u]
		row, has := s.ports.rows[u]
		var nw sbPortView
		delete(s.refused, u)
		if has {
			nw = s.view(row)
			s.views[u] = nw
			if nw.refusal != nil {
				s.refused[u] = *nw.refusal
			}
		} else {
			delete(s.views, u)
		}
		routers = routers || had && old.router || has && nw.router
		if had && old.listed && (!has || !nw.listed || nw.sw != old.sw) {
			editsFor(edits, old.sw)[u] = nil
		}
		if has && nw.listed && (!had || !old.listed || nw.sw != old.sw || !samePort(old.port, nw.port)) {
			p := nw.port
			editsFor(edits, nw.sw)[u] = &p
		}
	}
	for sw, e := range edits {
		if l := s.lists[sw]; l != nil {
			l.edit(e)
		}
	}
	if len(edits) > 0 || len(dCh) > 0 {
		s.assembleSwitches()
	}
	if routers {
		s.assembleRouters()
	}
}

func editsFor(edits map[string]map[string]*ovnstate.LogicalSwitchPort, sw string) map[string]*ovnstate.LogicalSwitchPort {
	e := edits[sw]
	if e == nil {
		e = map[string]*ovnstate.LogicalSwitchPort{}
		edits[sw] = e
	}
	return e
}

// rebuild converts every binding again and assembles everything: at the first read and
// after a reconnect.
func (s *sbState) rebuild() {
	s.dps = classifyDatapaths(s.datapaths.rows)
	s.views = make(map[string]sbPortView, len(s.ports.rows))
	s.refused = map[string]ovnstate.Refusal{}
	s.onDP = newRefs()
	s.lists = make(map[string]*sortedList[ovnstate.LogicalSwitchPort], len(s.dps.switches))
	ports := map[string][]ovnstate.LogicalSwitchPort{} // by switch datapath
	for u, pb := range s.ports.rows {
		s.onDP.add(pb.Datapath, u)
		v := s.view(pb)
		s.views[u] = v
		if v.refusal != nil {
			s.refused[u] = *v.refusal
		}
		if v.listed {
			ports[v.sw] = append(ports[v.sw], v.port)
		}
	}
	for sw := range s.dps.switches {
		l := newSortedList(compareSwitchPorts, switchPortUUID)
		l.reset(ports[sw])
		s.lists[sw] = l
	}
	s.assembleSwitches()
	s.assembleRouters()
}

func (s *sbState) state() ovnstate.State {
	st := ovnstate.State{SNATUnknown: true, Bindings: s.bindings.out, BindingsDelta: s.bindings.delta,
		Switches: s.switches, Routers: s.routers}
	st.Refused = slices.Concat(s.dps.refused, s.routerRefused, slices.Collect(maps.Values(s.refused)))
	slices.SortFunc(st.Refused, func(x, y ovnstate.Refusal) int {
		return cmp.Or(cmp.Compare(x.Object, y.Object), cmp.Compare(x.Message, y.Message))
	})
	return st
}

// sbDatapaths are the datapaths sorted into switches and routers by the external_ids
// ovn-northd sets; their ports are not in these values.
type sbDatapaths struct {
	switches map[string]ovnstate.LogicalSwitch // by datapath UUID
	routers  map[string]ovnstate.LogicalRouter // by datapath UUID
	refused  []ovnstate.Refusal
}

func classifyDatapaths(dps map[string]sbdb.DatapathBinding) sbDatapaths {
	out := sbDatapaths{switches: map[string]ovnstate.LogicalSwitch{}, routers: map[string]ovnstate.LogicalRouter{}}
	for _, d := range dps {
		name := d.ExternalIDs["name"]
		if name == "" {
			name = d.UUID
		}
		switch {
		case d.ExternalIDs["logical-switch"] != "":
			out.switches[d.UUID] = ovnstate.LogicalSwitch{UUID: d.ExternalIDs["logical-switch"], Name: name, ExternalIDs: d.ExternalIDs}
		case d.ExternalIDs["logical-router"] != "":
			out.routers[d.UUID] = ovnstate.LogicalRouter{UUID: d.ExternalIDs["logical-router"], Name: name, ExternalIDs: d.ExternalIDs}
		default:
			out.refused = append(out.refused, ovnstate.Refusal{Object: "Datapath_Binding " + d.UUID,
				Message: "external_ids names neither logical-switch nor logical-router; its ports are left out"})
		}
	}
	return out
}

// sbPortView is what one binding contributes to the state.
type sbPortView struct {
	sw      string                     // the switch datapath the binding is a port of
	listed  bool                       // port is in the switch's list
	port    ovnstate.LogicalSwitchPort // the switch port
	refusal *ovnstate.Refusal
	// lb and fip: the floating IP of an Octavia VIP port (neutron:port_fip) for load balancer lb.
	lb, fip string
	// router says the routers depend on the binding: a router port, the switch side of one
	// (peer, nat_addresses), a chassis-redirect port (which gateway is where), an Octavia
	// VIP port's floating IP.
	router bool
}

// view converts a binding. A binding whose datapath is not in the cache (yet) contributes
// nothing: the event that brings the datapath triggers another pass.
func (s *sbState) view(pb sbdb.PortBinding) sbPortView {
	v := sbPortView{router: pb.Type == "chassisredirect"}
	if _, ok := s.dps.routers[pb.Datapath]; ok {
		v.router = v.router || pb.Type == "patch" || pb.Type == "l3gateway"
		return v
	}
	if _, ok := s.dps.switches[pb.Datapath]; !ok {
		return v
	}
	v.sw = pb.Datapath
	// Neutron records a floating IP of an Octavia VIP port in its neutron:port_fip (NB
	// holds it in the load balancer's neutron:vip_fip, which SB does not copy).
	name := cmp.Or(pb.ExternalIDs["neutron:port_name"], pb.LogicalPort)
	if lb, ok := strings.CutPrefix(name, lbVIPPortPrefix); ok && lb != "" && pb.ExternalIDs["neutron:port_fip"] != "" {
		v.lb, v.fip, v.router = lb, pb.ExternalIDs["neutron:port_fip"], true
	}
	p := ovnstate.LogicalSwitchPort{UUID: pb.UUID, Name: pb.LogicalPort, Type: pb.Type,
		Addresses: pb.MAC, Options: pb.Options, ExternalIDs: pb.ExternalIDs}
	if pb.Tag != nil {
		p.Tag = *pb.Tag
	}
	if pb.Type == "patch" {
		v.router = true
		// The switch side of a router port: NB's type=router, options:router-port.
		peer := pb.Options["peer"]
		if peer == "" {
			v.refusal = &ovnstate.Refusal{Object: "Port_Binding " + pb.LogicalPort, Message: "patch port without options:peer; its router is unknown"}
			return v
		}
		p.Type = "router"
		p.Options = maps.Clone(pb.Options) // the row's own map is shared: never written
		p.Options["router-port"] = peer
	}
	v.port, v.listed = p, true
	return v
}

// assembleSwitches makes State.Switches from the datapaths and their port lists.
func (s *sbState) assembleSwitches() {
	s.switches = assembleSwitches(s.dps.switches, func(ls ovnstate.LogicalSwitch) ovnstate.LogicalSwitch { return ls }, s.lists)
}

// assembleRouters builds the routers from the bindings they depend on.
func (s *sbState) assembleRouters() {
	var rows []sbdb.PortBinding
	var fips []sbdb.PortBinding
	for u, v := range s.views {
		if v.router {
			rows = append(rows, s.ports.rows[u])
		}
		if v.lb != "" {
			fips = append(fips, s.ports.rows[u])
		}
	}
	slices.SortFunc(rows, func(x, y sbdb.PortBinding) int { return cmp.Compare(x.LogicalPort, y.LogicalPort) })
	slices.SortFunc(fips, func(x, y sbdb.PortBinding) int { return cmp.Compare(x.LogicalPort, y.LogicalPort) })
	b := &sbBuild{
		bindings:     s.bindings.out,
		switches:     s.dps.switches,
		routers:      make(map[string]*ovnstate.LogicalRouter, len(s.dps.routers)),
		routerOfPort: map[string]string{},
		peerSwitch:   map[string]string{},
		lbFIP:        map[string]string{},
	}
	for dp, lr := range s.dps.routers {
		b.routers[dp] = &lr
	}
	for _, pb := range fips {
		v := s.views[pb.UUID]
		b.lbFIP[v.lb] = v.fip
	}
	for _, pb := range rows {
		b.routerPort(pb)
	}
	// Peers are known once every port is: the switch side of each router port.
	for _, pb := range rows {
		if _, ok := b.switches[pb.Datapath]; ok && pb.Type == "patch" && pb.Options["peer"] != "" {
			b.peerSwitch[pb.Options["peer"]] = pb.Datapath
		}
	}
	b.loadBalancers(s.lbs.rows, s.groups.rows)
	for _, pb := range rows {
		if _, ok := b.switches[pb.Datapath]; !ok || pb.Type != "patch" {
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
	s.routers, s.routerRefused = b.finish()
}

// sbBuild is one assembly of the routers.
type sbBuild struct {
	bindings ovnstate.Bindings
	switches map[string]ovnstate.LogicalSwitch  // by datapath UUID
	routers  map[string]*ovnstate.LogicalRouter // by datapath UUID
	// routerOfPort maps a router port name to its router's datapath.
	routerOfPort map[string]string
	// peerSwitch maps a router port name to the datapath of the switch its peer is on.
	peerSwitch map[string]string
	// lbFIP maps a load balancer's name to the floating IP of its Octavia VIP port.
	lbFIP   map[string]string
	refused []ovnstate.Refusal
}

func (b *sbBuild) refuse(object string, prefixes []netip.Prefix, format string, args ...any) {
	b.refused = append(b.refused, ovnstate.Refusal{Object: object, Message: fmt.Sprintf(format, args...), Prefixes: prefixes})
}

// routerPort adds a binding on a router datapath to its router.
func (b *sbBuild) routerPort(pb sbdb.PortBinding) {
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
		b.refuse("Port_Binding "+pb.LogicalPort, nil, "router port of %s: %v; the port is left out", lr.Name, err)
		return
	}
	lr.Ports = append(lr.Ports, ovnstate.LogicalRouterPort{UUID: pb.UUID, Name: pb.LogicalPort, MAC: mac, Networks: networks,
		Options: pb.Options, ExternalIDs: pb.ExternalIDs})
	b.routerOfPort[pb.LogicalPort] = pb.Datapath
}

// loadBalancers attaches each SB load balancer to the routers it belongs to: a router whose
// datapath it is on, or whose tenant side (a switch behind a router port that is not the
// gateway) it is on, as the Octavia OVN provider attaches them. (OVN before 23.09 writes
// only load balancers on switches into SB.) The floating IP of its VIP port becomes its
// neutron:vip_fip, as in NB.
func (b *sbBuild) loadBalancers(lbs map[string]sbdb.LoadBalancer, group map[string]sbdb.LogicalDPGroup) {
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
func (b *sbBuild) isGatewayPort(port string) bool {
	crp, ok := b.bindings.Get("cr-" + port)
	return ok && crp.Type == "chassisredirect"
}

// natAddresses turns the nat_addresses of a router's gateway port (switch side) into the
// router's dnat_and_snat rules. An address resident on a VM port is a distributed floating
// IP of that port, with the entry's MAC as its external MAC. An address resident on the
// chassis-redirect port (or on no port) is served on the gateway chassis: a rule without
// logical_port, unless it is the router's own address, in a subnet behind the router (a
// tenant load-balancer VIP), or a VIP of one of the router's load balancers; those rules
// cover them.
func (b *sbBuild) natAddresses(pb sbdb.PortBinding) {
	object := "Port_Binding " + pb.LogicalPort
	lrpName := pb.Options["peer"]
	rdp, ok := b.routerOfPort[lrpName]
	if pb.Type != "patch" || !ok {
		return // not (yet) the switch side of a known router port
	}
	lr := b.routers[rdp]
	own, behind := b.routerAddresses(lr, lrpName)
	vips := lbVIPs(lr)
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
		resident, _ := b.bindings.Get(na.Resident)
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
func (b *sbBuild) routerAddresses(lr *ovnstate.LogicalRouter, gw string) (map[netip.Addr]bool, []netip.Prefix) {
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

// lbVIPs returns the VIP addresses of the router's load balancers, and their floating IPs.
func lbVIPs(lr *ovnstate.LogicalRouter) map[netip.Addr]bool {
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

// finish sorts the routers as the NB engine does, so both engines give the core the same
// order.
func (b *sbBuild) finish() ([]ovnstate.LogicalRouter, []ovnstate.Refusal) {
	out := make([]ovnstate.LogicalRouter, 0, len(b.routers))
	for _, lr := range b.routers {
		slices.SortFunc(lr.Ports, func(x, y ovnstate.LogicalRouterPort) int { return cmp.Compare(x.Name, y.Name) })
		slices.SortFunc(lr.NAT, func(x, y ovnstate.NAT) int {
			return cmp.Or(cmp.Compare(x.Type, y.Type), cmp.Compare(x.ExternalIP, y.ExternalIP), cmp.Compare(x.LogicalPort, y.LogicalPort))
		})
		lr.NAT = slices.CompactFunc(lr.NAT, func(x, y ovnstate.NAT) bool { return x.Type == y.Type && x.ExternalIP == y.ExternalIP })
		slices.SortFunc(lr.LoadBalancers, func(x, y ovnstate.LoadBalancer) int {
			return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.UUID, y.UUID))
		})
		out = append(out, *lr)
	}
	slices.SortFunc(out, func(x, y ovnstate.LogicalRouter) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.UUID, y.UUID))
	})
	return out, b.refused
}
