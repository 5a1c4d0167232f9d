package kernel

// judge tells the watcher what an event on the NIC means to the address and route applier:
// the echo of its own change, or a change of someone else's to its state (which drops its
// mirrors, so the next pass reads back and repairs).
func (a *Applier) judge(ev event) verdict {
	switch ev.kind {
	case evAddrChanged:
		// Only the node's own addresses depend on it; nothing of the agent's went.
		a.node.addrEvent(ev.index, ev.addr)
		return notMine
	case evLinkChanged:
		// A device the node's own addresses are on may have changed them; only the NIC and
		// the VRF carry what this applier installed.
		a.node.linkEvent(ev.index, ev.name == a.opts.NIC)
		m := &a.addrs
		m.mu.Lock()
		defer m.mu.Unlock()
		if ev.name == a.opts.NIC || ev.name == a.opts.VRF || m.index != 0 && ev.index == m.index {
			return drift
		}
		return notMine
	case evAddrDeleted:
		m := &a.addrs
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.index != 0 && ev.index != m.index {
			return notMine
		}
		if _, in := m.set[ev.addr]; !m.ok || in {
			m.dropLocked()
			return drift
		}
		if ev.addr.Is4() && !a.hasIPv4Locked() && a.routesHaveIPv4() {
			// The NIC's last IPv4 address went: the kernel flushed its IPv4 routes, silently.
			a.routes.drop()
			return drift
		}
		return expected
	case evLocalAdded:
		if a.opts.VRF != "" {
			return notMine // a VRF's local entries are where they belong
		}
		m := &a.addrs
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.index != 0 && ev.index != m.index {
			return notMine
		}
		if a.expectLocal[ev.addr] > 0 {
			a.expectLocalLocked(ev.addr, -1)
			return expected
		}
		if _, in := m.set[ev.addr]; !m.ok || in {
			m.dropLocked() // an exposed address became host-local again: a read-back deletes it
			return drift
		}
		return notMine
	case evRouteDeleted:
		if ev.table != uint32(a.table()) {
			return notMine
		}
		m := &a.routes
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.index != 0 && ev.index != m.index {
			return notMine
		}
		if !m.ok || m.set[nicRoute(ev.dst, ev.metric)] {
			m.dropLocked()
			return drift
		}
		return expected
	}
	return notMine
}

// forget drops the applier's mirrors: the next pass reads the NIC back.
func (a *Applier) forget() {
	a.addrs.drop()
	a.routes.drop()
	a.node.drop()
}

// judge tells the watcher what a route or neighbour event means to the wiring.
func (w *Wirer) judge(ev event) verdict {
	var f itemFields
	switch ev.kind {
	case evRouteDeleted:
		if ev.table < w.opts.TableBase || uint64(ev.table) >= uint64(w.opts.TableBase)+uint64(w.opts.TableCount) {
			return notMine
		}
		f = itemFields{kind: kindRoute, dst: ev.dst, table: ev.table}
		if ev.via.IsValid() {
			f.via, f.onlink = ev.via, ev.onlink
		}
	case evRuleDeleted:
		it := itemFields{kind: kindRule, dst: ev.dst, table: ev.table}.item()
		m := &w.items
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, in := m.set[it]; !m.ok || in {
			m.dropLocked()
			return drift
		}
		return expected
	case evLinkChanged:
		// A provider device (or a VLAN device on one) created, deleted, or set up or down:
		// the kernel flushes the routes through a device that goes down. Other devices
		// carry nothing of the wiring's.
		m := &w.items
		m.mu.Lock()
		defer m.mu.Unlock()
		if w.provDevs[ev.index] || w.provDevs[ev.parent] || w.provNames[ev.name] {
			return drift
		}
		return notMine
	case evAddrDeleted:
		// The kernel flushes the IPv4 routes through a device when its last IPv4 address
		// goes, and says nothing about them.
		m := &w.items
		m.mu.Lock()
		defer m.mu.Unlock()
		if !w.provDevs[ev.index] {
			return notMine
		}
		m.dropLocked()
		return drift
	case evNeighDeleted:
		f = hostFields(kindNeigh, ev.addr, "")
		f.mac = ev.mac
		if ev.proxy {
			f = hostFields(kindProxy, ev.addr, "")
		}
	default:
		return notMine
	}
	m := &w.items
	m.mu.Lock()
	defer m.mu.Unlock()
	dev, known := w.devNames[ev.index]
	f.dev = dev
	it := f.item()
	_, in := m.set[it]
	if it.kind == kindNeigh && !in {
		// The kernel reports a permanent neighbour's deletion without its MAC (it is
		// FAILED by then): look for one of the agent's on that address and device. Rare
		// (a gateway moving), so a scan is cheap enough.
		for have := range m.set {
			if have.kind == kindNeigh && have.dst() == it.dst() && have.dev() == it.dev() && have.other() == "" {
				in = true
				break
			}
		}
	}
	if !m.ok || !known || ev.multi || in {
		m.dropLocked()
		return drift
	}
	return expected
}

// forget drops the wiring's mirror: the next pass reads every rule, route and neighbour back.
func (w *Wirer) forget() { w.items.drop() }

// hasIPv4Locked reports whether an IPv4 address is mirrored on the NIC. Call with
// a.addrs.mu held.
func (a *Applier) hasIPv4Locked() bool {
	for ip := range a.addrs.set {
		if ip.Is4() {
			return true
		}
	}
	return false
}

// routesHaveIPv4 reports whether the routes mirror holds an IPv4 route.
func (a *Applier) routesHaveIPv4() bool {
	m := &a.routes
	m.mu.Lock()
	defer m.mu.Unlock()
	for r := range m.set {
		if r.Prefix.Addr().Is4() {
			return true
		}
	}
	return false
}
