package ovn

import (
	"cmp"
	"maps"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// nbState is the NB engine's plain state: switches with their ports, routers with their
// ports, NAT rules and load balancers, and NB_Global's external_ids.
//
// The maps and slices inside the values are the cached rows' own (Row hands out a copy per
// read, and libovsdb never changes a cached row in place): a State is read-only, and whoever
// needs to change one copies first.
type nbState struct {
	sw     *nbSwitches
	lr     *nbRouters
	global plainTable[map[string]string]
}

func newNBState() *nbState {
	return &nbState{sw: newNBSwitches(), lr: newNBRouters(), global: newPlainTable(func(m model.Model) (map[string]string, bool) {
		g, ok := m.(*nbdb.NBGlobal)
		if !ok {
			return nil, false
		}
		return g.ExternalIDs, true
	})}
}

// nbTables are the NB tables nbState reads, in the order read takes their row caches.
var nbTables = []string{nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.LogicalRouterTable,
	nbdb.LogicalRouterPortTable, nbdb.NATTable, nbdb.LoadBalancerTable, nbdb.NBGlobalTable}

func (n *nbState) read(rc []*cache.RowCache, dirty map[string]map[string]struct{}, all bool) {
	n.sw.read(rc[0], rc[1], dirty, all)
	n.lr.read(rc[2], rc[3], rc[4], rc[5], dirty, all)
	n.global.sync(rc[6], dirty[nbdb.NBGlobalTable], all)
}

func (n *nbState) state() ovnstate.State {
	st := ovnstate.State{Switches: n.sw.list, Routers: n.lr.list}
	for _, ext := range n.global.rows {
		st.NBGlobalExternalIDs = ext
	}
	return st
}

// nbSwitch is a Logical_Switch row: its ports are still UUIDs.
type nbSwitch struct {
	ls    ovnstate.LogicalSwitch // without ports
	ports []string
}

func switchPortUUID(p ovnstate.LogicalSwitchPort) string { return p.UUID }

func compareSwitchPorts(a, b ovnstate.LogicalSwitchPort) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
}

// nbSwitches keeps State.Switches: per switch its ports sorted by name, edited port by
// port; a port is in the list of each switch whose ports column names it and exists.
type nbSwitches struct {
	switches plainTable[nbSwitch]
	ports    plainTable[ovnstate.LogicalSwitchPort]
	portIn   refs                                               // port UUID → switches listing it
	lists    map[string]*sortedList[ovnstate.LogicalSwitchPort] // by switch UUID
	list     []ovnstate.LogicalSwitch                           // State.Switches, sorted by name
}

func newNBSwitches() *nbSwitches {
	return &nbSwitches{
		switches: newPlainTable(func(m model.Model) (nbSwitch, bool) {
			s, ok := m.(*nbdb.LogicalSwitch)
			if !ok {
				return nbSwitch{}, false
			}
			return nbSwitch{ls: ovnstate.LogicalSwitch{UUID: s.UUID, Name: s.Name, ExternalIDs: s.ExternalIDs}, ports: s.Ports}, true
		}),
		ports: newPlainTable(func(m model.Model) (ovnstate.LogicalSwitchPort, bool) {
			p, ok := m.(*lspRow)
			if !ok {
				return ovnstate.LogicalSwitchPort{}, false
			}
			lsp := ovnstate.LogicalSwitchPort{UUID: p.UUID, Name: p.Name, Type: p.Type, Addresses: p.Addresses,
				Options: p.Options, ExternalIDs: p.ExternalIDs}
			if p.Tag != nil {
				lsp.Tag = *p.Tag
			}
			return lsp, true
		}),
		portIn: newRefs(),
		lists:  map[string]*sortedList[ovnstate.LogicalSwitchPort]{},
	}
}

func (s *nbSwitches) read(switches, ports *cache.RowCache, dirty map[string]map[string]struct{}, all bool) {
	swCh, swFull := s.switches.sync(switches, dirty[nbdb.LogicalSwitchTable], all)
	pCh, pFull := s.ports.sync(ports, dirty[nbdb.LogicalSwitchPortTable], all)
	if swFull || pFull {
		s.rebuild()
		return
	}
	if len(swCh) == 0 && len(pCh) == 0 {
		return
	}
	edits := map[string]map[string]*ovnstate.LogicalSwitchPort{} // switch → port → new value or nil
	editFor := func(sw string) map[string]*ovnstate.LogicalSwitchPort {
		e := edits[sw]
		if e == nil {
			e = map[string]*ovnstate.LogicalSwitchPort{}
			edits[sw] = e
		}
		return e
	}
	for _, c := range swCh {
		editFor(c.uuid) // the switch's own columns may have changed
		var oldPorts []string
		if c.hadOld {
			oldPorts = c.old.ports
		}
		var newPorts []string
		l := s.lists[c.uuid]
		if c.has {
			newPorts = c.new.ports
			if l == nil {
				l = newSortedList(compareSwitchPorts, switchPortUUID)
				s.lists[c.uuid] = l
			}
		} else {
			delete(s.lists, c.uuid)
		}
		keep := make(map[string]struct{}, len(newPorts))
		for _, u := range newPorts {
			keep[u] = struct{}{}
			// A port already listed stays (and is in portIn): a change of its own row is in
			// pCh. Adding a port rewrites the switch's whole ports column; only the new port
			// is an edit.
			if s.portIn.has(u, c.uuid) {
				continue
			}
			s.portIn.add(u, c.uuid)
			if p, ok := s.ports.rows[u]; ok {
				editFor(c.uuid)[u] = &p
			}
		}
		for _, u := range oldPorts {
			if _, ok := keep[u]; !ok {
				s.portIn.remove(u, c.uuid)
				editFor(c.uuid)[u] = nil
			}
		}
	}
	for _, c := range pCh {
		for sw := range s.portIn.of(c.uuid) {
			switch {
			case !c.has:
				editFor(sw)[c.uuid] = nil
			case c.hadOld && samePort(c.old, c.new):
				// The value the lists have: no edit (a switch that lists the port anew
				// has its edit from the switch's change above).
			default:
				p := c.new
				editFor(sw)[c.uuid] = &p
			}
		}
	}
	for sw, e := range edits {
		if l := s.lists[sw]; l != nil {
			l.edit(e)
		}
	}
	s.assemble()
}

func samePort(a, b ovnstate.LogicalSwitchPort) bool {
	return a.UUID == b.UUID && a.Name == b.Name && a.Type == b.Type && a.Tag == b.Tag &&
		slices.Equal(a.Addresses, b.Addresses) && maps.Equal(a.Options, b.Options) && maps.Equal(a.ExternalIDs, b.ExternalIDs)
}

// rebuild assembles every switch from the rows: at the first read and after a reconnect.
func (s *nbSwitches) rebuild() {
	s.portIn = newRefs()
	s.lists = make(map[string]*sortedList[ovnstate.LogicalSwitchPort], len(s.switches.rows))
	for u, sw := range s.switches.rows {
		ports := make([]ovnstate.LogicalSwitchPort, 0, len(sw.ports))
		for _, pu := range sw.ports {
			s.portIn.add(pu, u)
			if p, ok := s.ports.rows[pu]; ok {
				ports = append(ports, p)
			}
		}
		l := newSortedList(compareSwitchPorts, switchPortUUID)
		l.reset(ports)
		s.lists[u] = l
	}
	s.assemble()
}

// assemble makes State.Switches from the switches and their lists: a new slice sharing the
// port lists.
func (s *nbSwitches) assemble() {
	s.list = assembleSwitches(s.switches.rows, func(sw nbSwitch) ovnstate.LogicalSwitch { return sw.ls }, s.lists)
}

// nbRouter is a Logical_Router row: its ports, NAT rules and load balancers are still UUIDs.
type nbRouter struct {
	lr              ovnstate.LogicalRouter // without ports, NAT and load balancers
	ports, nat, lbs []string
}

// nbRouters keeps State.Routers. A router is assembled again, from its rows, when it or
// one of the rows it refers to changed: a router has few of them.
type nbRouters struct {
	routers plainTable[nbRouter]
	ports   plainTable[ovnstate.LogicalRouterPort]
	nats    plainTable[ovnstate.NAT]
	lbs     plainTable[ovnstate.LoadBalancer]
	in      refs                              // port, NAT or load balancer UUID → routers listing it
	byUUID  map[string]ovnstate.LogicalRouter // assembled
	list    []ovnstate.LogicalRouter          // State.Routers, sorted by name
}

func newNBRouters() *nbRouters {
	return &nbRouters{
		routers: newPlainTable(func(m model.Model) (nbRouter, bool) {
			r, ok := m.(*nbdb.LogicalRouter)
			if !ok {
				return nbRouter{}, false
			}
			return nbRouter{lr: ovnstate.LogicalRouter{UUID: r.UUID, Name: r.Name, ExternalIDs: r.ExternalIDs},
				ports: r.Ports, nat: r.Nat, lbs: r.LoadBalancer}, true
		}),
		ports: newPlainTable(func(m model.Model) (ovnstate.LogicalRouterPort, bool) {
			p, ok := m.(*nbdb.LogicalRouterPort)
			if !ok {
				return ovnstate.LogicalRouterPort{}, false
			}
			return ovnstate.LogicalRouterPort{UUID: p.UUID, Name: p.Name, MAC: p.MAC, Networks: p.Networks,
				Options: p.Options, ExternalIDs: p.ExternalIDs}, true
		}),
		nats: newPlainTable(func(m model.Model) (ovnstate.NAT, bool) {
			n, ok := m.(*nbdb.NAT)
			if !ok {
				return ovnstate.NAT{}, false
			}
			return ovnstate.NAT{UUID: n.UUID, Type: string(n.Type), ExternalIP: n.ExternalIP, LogicalIP: n.LogicalIP,
				ExternalMAC: deref(n.ExternalMAC), LogicalPort: deref(n.LogicalPort), ExternalIDs: n.ExternalIDs}, true
		}),
		lbs: newPlainTable(func(m model.Model) (ovnstate.LoadBalancer, bool) {
			l, ok := m.(*nbdb.LoadBalancer)
			if !ok {
				return ovnstate.LoadBalancer{}, false
			}
			return ovnstate.LoadBalancer{UUID: l.UUID, Name: l.Name, VIPs: l.Vips, ExternalIDs: l.ExternalIDs}, true
		}),
		in:     newRefs(),
		byUUID: map[string]ovnstate.LogicalRouter{},
	}
}

func (r *nbRouters) read(routers, ports, nats, lbs *cache.RowCache, dirty map[string]map[string]struct{}, all bool) {
	rCh, rFull := r.routers.sync(routers, dirty[nbdb.LogicalRouterTable], all)
	pCh, pFull := r.ports.sync(ports, dirty[nbdb.LogicalRouterPortTable], all)
	nCh, nFull := r.nats.sync(nats, dirty[nbdb.NATTable], all)
	lCh, lFull := r.lbs.sync(lbs, dirty[nbdb.LoadBalancerTable], all)
	if rFull || pFull || nFull || lFull {
		r.in = newRefs()
		r.byUUID = make(map[string]ovnstate.LogicalRouter, len(r.routers.rows))
		for u, row := range r.routers.rows {
			r.refer(u, row, true)
			r.byUUID[u] = r.assemble(row)
		}
		r.sort()
		return
	}
	touched := map[string]struct{}{}
	for _, c := range rCh {
		touched[c.uuid] = struct{}{}
		if c.hadOld {
			r.refer(c.uuid, c.old, false)
		}
		if c.has {
			r.refer(c.uuid, c.new, true)
		}
	}
	for _, u := range slices.Concat(uuids(pCh), uuids(nCh), uuids(lCh)) {
		for lr := range r.in.of(u) {
			touched[lr] = struct{}{}
		}
	}
	if len(touched) == 0 {
		return
	}
	for u := range touched {
		if row, ok := r.routers.rows[u]; ok {
			r.byUUID[u] = r.assemble(row)
		} else {
			delete(r.byUUID, u)
		}
	}
	r.sort()
}

func uuids[P any](chs []change[P]) []string {
	out := make([]string, len(chs))
	for i, c := range chs {
		out[i] = c.uuid
	}
	return out
}

// refer adds (or removes) the references of router u's row to the reverse index.
func (r *nbRouters) refer(u string, row nbRouter, add bool) {
	for _, to := range slices.Concat(row.ports, row.nat, row.lbs) {
		if add {
			r.in.add(to, u)
		} else {
			r.in.remove(to, u)
		}
	}
}

// assemble joins a router with its ports, NAT rules and load balancers, each sorted. A
// reference to a row not (yet) in the cache is skipped: the event that brings it triggers
// another pass.
func (r *nbRouters) assemble(row nbRouter) ovnstate.LogicalRouter {
	out := row.lr
	for _, u := range row.ports {
		if p, ok := r.ports.rows[u]; ok {
			out.Ports = append(out.Ports, p)
		}
	}
	for _, u := range row.nat {
		if n, ok := r.nats.rows[u]; ok {
			out.NAT = append(out.NAT, n)
		}
	}
	for _, u := range row.lbs {
		if l, ok := r.lbs.rows[u]; ok {
			out.LoadBalancers = append(out.LoadBalancers, l)
		}
	}
	slices.SortFunc(out.Ports, func(a, b ovnstate.LogicalRouterPort) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	slices.SortFunc(out.NAT, func(a, b ovnstate.NAT) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ExternalIP, b.ExternalIP),
			cmp.Compare(a.LogicalIP, b.LogicalIP), cmp.Compare(a.UUID, b.UUID))
	})
	slices.SortFunc(out.LoadBalancers, func(a, b ovnstate.LoadBalancer) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	return out
}

func (r *nbRouters) sort() {
	out := slices.Collect(maps.Values(r.byUUID))
	slices.SortFunc(out, func(a, b ovnstate.LogicalRouter) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	r.list = out
}
