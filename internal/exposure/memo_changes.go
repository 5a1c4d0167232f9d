package exposure

import (
	"net/netip"
	"slices"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// An event on a busy node is nearly always one binding changing (a VM booted, stopped or
// migrated), the switches untouched. Visiting 10,000 ports to find the one that changed, and
// sorting 10,000 exposures again, cost more than the rest of such a pass; so when the State
// says which bindings changed since the last Compute's (ovnstate.BindingsDelta) and its
// switches are the last Compute's (the same slice: the snapshot hands out the same one while
// no switch or port changed), the Memo decides only the ports of those bindings and splices
// their exposures into the provider ports' sorted list it kept. Routers, floating IPs, load
// balancers and tenant networks are decided anew as in any pass (their inputs include
// bindings of their own: gateway ports) when a binding they read changed, and merged in. Whatever the splice cannot show to
// equal Compute's result falls back to a whole pass: a changed port with a finding (their
// order follows the ports'), two exposures of one prefix, a port name used twice, the
// "provider" allow-list (it reads every router port).

// memoLast is what the last Compute kept for the next one to work on changed bindings alone.
type memoLast struct {
	valid    bool
	switches []ovnstate.LogicalSwitch // the State's, by identity
	bindings ovnstate.Bindings        // the State's, by identity
	// out is the last whole Compute's result (handed out: read only). prov are the
	// provider ports' exposures, sorted by prefix, taken from out by the first Compute that
	// works on changed bindings (out has each prefix once: its KindVM exposures are the
	// provider ports', the rest the routers' part); provFindings their findings, in the
	// order the ports were visited. The Memo owns prov: nothing handed out shares it.
	out          []*Exposure
	prov         []*Exposure
	provFindings []Finding
	// dups says that a port name appeared twice among the provider networks' VM ports;
	// claimedTwice that a prefix was (out then does not show every exposure).
	dups, claimedTwice bool
	// routers is the routers' part (computer.routers: gateways, floating IPs, load
	// balancers, tenant networks), sorted, with its findings, what it read besides the
	// switches and the context (the routers, NB_Global's external_ids, whether SNAT is
	// known) and the bindings it read: reused while none of them changed.
	routers         []*Exposure
	routerFindings  []Finding
	routersOf       []ovnstate.LogicalRouter
	nbGlobal        map[string]string
	snatUnknown     bool
	routersBindings map[string]struct{}
	// The computer's indexes of the switches (computer.indexSwitches), valid while the
	// switches and the bridge mappings are the same.
	provider         map[string]providerNet
	routerPortSwitch map[string]*ovnstate.LogicalSwitch
	routerPortLSP    map[string]ovnstate.LogicalSwitchPort
	switchOf         map[string]*ovnstate.LogicalSwitch
}

// keepWhole keeps what a whole Compute decided: its result (out, handed out), the provider
// ports' findings and the routers' part's, and whether a prefix was claimed twice.
func (m *Memo) keepWhole(c *computer, out []*Exposure, provFindings, routerFindings []Finding, claimedTwice bool) {
	l := &m.last
	l.out, l.prov, l.provFindings, l.claimedTwice = out, nil, slices.Clone(provFindings), claimedTwice
	m.keepRouters(c, nil, routerFindings)
}

// keepRouters keeps the routers' part of a Compute (rest, sorted, and its findings) and what
// it was decided from.
func (m *Memo) keepRouters(c *computer, rest []*Exposure, findings []Finding) {
	l := &m.last
	l.routers, l.routerFindings = rest, slices.Clone(findings)
	l.routersOf, l.nbGlobal, l.snatUnknown = c.st.Routers, c.st.NBGlobalExternalIDs, c.st.SNATUnknown
	l.routersBindings, c.bindingsRead = c.bindingsRead, nil
}

// sameRouters says whether the routers' part kept is the one st gives, its bindings
// unchanged but for ports (changedPorts).
func (l *memoLast) sameRouters(st ovnstate.State, ports []string) bool {
	if len(st.Routers) != len(l.routersOf) || len(st.Routers) > 0 && &st.Routers[0] != &l.routersOf[0] ||
		st.SNATUnknown != l.snatUnknown || !sameMap(st.NBGlobalExternalIDs, l.nbGlobal) {
		return false
	}
	for _, p := range ports {
		if _, read := l.routersBindings[p]; read {
			return false
		}
	}
	return true
}

// keepIndexes completes what a whole Compute keeps for the next one.
func (m *Memo) keepIndexes(c *computer) {
	l := &m.last
	l.valid = !c.policy.Allowed[KindVM].Provider
	l.switches, l.bindings = c.st.Switches, c.st.Bindings
	l.provider, l.routerPortSwitch, l.routerPortLSP, l.switchOf = c.provider, c.routerPortSwitch, c.routerPortLSP, c.switchOf
}

// changedPorts returns the logical ports whose bindings changed since the last Compute, when
// st can say (ok).
func (m *Memo) changedPorts(st ovnstate.State) (ports []string, ok bool) {
	l := &m.last
	switch {
	case !l.valid || l.dups || l.claimedTwice || !sameSwitches(st.Switches, l.switches):
		return nil, false
	case st.Bindings.Same(l.bindings):
		return nil, true
	case st.BindingsDelta != nil && st.BindingsDelta.From.Same(l.bindings):
		return st.BindingsDelta.Ports, true
	}
	return nil, false
}

// computeChanged is Compute for a State whose switches are the last Compute's and whose
// bindings changed in the ports changedPorts names; ok is false when it cannot vouch for the
// result, and the caller computes the whole pass.
func (m *Memo) computeChanged(st ovnstate.State, node ovnstate.Identity, policy Policy) (Desired, []Finding, bool) {
	ports, ok := m.changedPorts(st)
	if !ok {
		return Desired{}, nil, false
	}
	l := &m.last
	c := newBareComputer(st, node, policy, nil)
	c.provider, c.routerPortSwitch, c.routerPortLSP, c.switchOf = l.provider, l.routerPortSwitch, l.routerPortLSP, l.switchOf
	ctx := memoContext{valid: true, chassis: node.Chassis, mappings: node.BridgeMappings, facts: node.Facts, policy: c.policy}
	if c.policy.Allowed[KindVM].Provider || !m.sameCtx(m.ctx, ctx) {
		return Desired{}, nil, false
	}
	c.memo = m

	// Decide the changed ports; nothing of the Memo's changes until all of them are known to
	// splice cleanly.
	type redo struct {
		e         *portMemo
		b         ovnstate.PortBinding
		bound     bool
		exposures []Exposure
	}
	var redos []redo
	for _, name := range ports {
		e := m.ports[name]
		if e == nil || e.seen != m.pass || slices.ContainsFunc(redos, func(r redo) bool { return r.e == e }) {
			continue // not a provider network's VM port: its binding is read by routers() below
		}
		ne := len(c.exposures)
		c.providerPort(&st.Switches[e.lsIdx], e.pn, e.lsp)
		if len(c.findings) > 0 || len(e.findings) > 0 {
			return Desired{}, nil, false
		}
		b, bound := st.Bindings.Get(name)
		redos = append(redos, redo{e: e, b: b, bound: bound, exposures: slices.Clone(c.exposures[ne:])})
	}
	if l.prov == nil {
		// The first Compute on changed bindings since a whole one: the two parts of its
		// result apart (each prefix is there once).
		l.prov, l.routers = make([]*Exposure, 0, len(l.out)+len(l.out)/8+16), nil
		for _, e := range l.out {
			if e.Kind == KindVM {
				l.prov = append(l.prov, e)
			} else {
				l.routers = append(l.routers, e)
			}
		}
	}
	prov := l.prov
	for _, r := range redos {
		for _, x := range r.e.exposures {
			i, ok := slices.BinarySearchFunc(prov, x.Prefix, byPrefix)
			if !ok || prov[i].Object != x.Object || !alone(prov, i) {
				m.last = memoLast{}
				return Desired{}, nil, false
			}
			prov = slices.Delete(prov, i, i+1)
		}
	}
	for _, r := range redos {
		for k := range r.exposures {
			// A pointer into the port's new list, which the memo keeps and never writes.
			x := &r.exposures[k]
			i, found := slices.BinarySearchFunc(prov, x.Prefix, byPrefix)
			if found {
				m.last = memoLast{}
				return Desired{}, nil, false
			}
			prov = slices.Insert(prov, i, x)
		}
	}
	l.prov = prov
	for _, r := range redos {
		// Its addresses are the kept ones: the port is the same row.
		r.e.b, r.e.bound, r.e.exposures = r.b, r.bound, pointersTo(r.exposures)
	}
	l.bindings = st.Bindings
	m.Hits, m.Misses = len(m.ports)-len(redos), len(redos)
	m.changedOnly++

	// Everything else, as run() does it: the routers' part kept while nothing it read
	// changed, decided anew otherwise.
	c.exposures = c.exposures[:0]
	c.findings = c.findings[:0]
	for _, r := range st.Refused {
		c.findings = append(c.findings, Finding{Object: r.Object, Reason: ReasonSource, Message: r.Message, Prefixes: r.Prefixes})
	}
	c.findings = append(c.findings, l.provFindings...)
	if m.sameRouters(l, st, ports) {
		c.findings = append(c.findings, l.routerFindings...)
	} else {
		routerFindings := len(c.findings)
		c.bindingsRead = map[string]struct{}{}
		c.routers()
		l.switchOf = c.switchOf
		m.keepRouters(c, pointersTo(sortByPrefix(c.exposures, nil)), c.findings[routerFindings:])
	}
	var d Desired
	if d.Exposures = c.dedupe(mergeByPrefix(prov, l.routers)); len(d.Exposures) == 0 {
		d.Exposures = nil
	}
	d.Bridges = c.bridges()
	m.exposures = len(d.Exposures)
	return d, c.findings, true
}

func byPrefix(e *Exposure, p netip.Prefix) int { return ComparePrefix(e.Prefix, p) }

// alone says whether prov[i]'s prefix is no neighbour's: within a prefix the order of
// exposures follows the visit, which a splice does not know.
func alone(prov []*Exposure, i int) bool {
	return !(i > 0 && prov[i-1].Prefix == prov[i].Prefix || i+1 < len(prov) && prov[i+1].Prefix == prov[i].Prefix)
}

// sameSwitches reports whether a and b are the same slice (the snapshot's, unchanged).
func sameSwitches(a, b []ovnstate.LogicalSwitch) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
