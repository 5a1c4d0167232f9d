package exposure

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// Memo is Compute for a caller that computes again and again (the reconcile pass): it keeps
// each provider-network VM port's result from one Compute to the next and reuses it while
// everything that result was decided from is unchanged, so that with 10,000 ports bound to
// the node an event costs what it changed, not what the node holds. Its results are exactly
// Compute's (TestMemoEqualsCompute): exposures and findings, reused ones included, in
// Compute's order. A VM port's result is reused when
//   - the port (the whole Logical_Switch_Port value), its Port_Binding (or its absence), its
//     switch's name and provider network (physnet, bridge, VLAN) equal the last Compute's,
//   - and so does the context every port's decision reads (memoContext): the chassis, the
//     bridge mappings, the node's facts, the policy, and the provider networks' subnets
//     when the VM allow-list names "provider".
//
// The States given to Compute must not be modified afterwards (ovnstate's data is
// read-only: the snapshot replaces a changed row, it never edits one), since a reused result
// is matched against the last State's values, maps included: an unchanged map is recognised
// by identity before it is compared entry by entry. A Memo is not safe for concurrent use;
// Explain never uses one, so that explaining re-decides everything.
type Memo struct {
	ctx   memoContext
	ports map[string]*portMemo
	pass  uint64 // counts Compute calls; portMemo.seen is the last one that visited a port
	// since is the first Compute whose results may be reused: Forget and a changed context
	// move it on instead of dropping the entries, so that deciding a port anew reuses its
	// entry's allocation (a full pass at 100,000 ports otherwise allocates them all again).
	since uint64
	// exposures is how many exposures the last Compute found, to size the next one's.
	exposures int
	// visits are the ports the running whole Compute visited (pointVisited).
	visits []visit

	// Hits and Misses count the ports reused and decided anew by the last Compute.
	Hits, Misses int

	// last is what the last Compute kept for the next to work on changed bindings alone
	// (memo_changes.go); changedOnly counts the Computes that did.
	last        memoLast
	changedOnly int

	// samePort compares a port's inputs with the last Compute's, sameCtx the context's,
	// sameRouters the routers' part's; fields only so that a test can drop an input and see
	// the equivalence test fail.
	samePort    func(m *portMemo, ls string, pn providerNet, p ovnstate.LogicalSwitchPort, b ovnstate.PortBinding, bound bool) bool
	sameCtx     func(a, b memoContext) bool
	sameRouters func(l *memoLast, st ovnstate.State, changed []string) bool
}

// memoContext is what every provider port's decision reads besides its own rows.
type memoContext struct {
	valid    bool
	chassis  string
	mappings map[string]string
	facts    ovnstate.NodeFacts
	policy   Policy
	// provSubnets are the provider networks' subnets, only when the VM allow-list has
	// "provider" (the guard reads them then).
	provSubnets map[string][]netip.Prefix
}

// portMemo is one provider port's last result and what it was decided from.
type portMemo struct {
	lsIdx int // the switch's index in the State's Switches
	ls    string
	pn    providerNet
	lsp   ovnstate.LogicalSwitchPort
	b     ovnstate.PortBinding
	bound bool
	addrs []netip.Addr
	// exposures point into the sorted list of the last whole Compute that visited the port
	// (pointVisited), or into the port's own list when a Compute on changed bindings decided
	// it: never a copy of their own, which at 10,000 ports was a second 1.9 MB of exposures.
	exposures []*Exposure
	findings  []Finding
	seen      uint64
}

// visit is where a whole Compute put a port's exposures in its list before sorting it.
type visit struct {
	e     *portMemo
	at, n int32
}

// NewMemo returns an empty Memo: its first Compute decides every port.
func NewMemo() *Memo {
	return &Memo{ports: map[string]*portMemo{}, samePort: samePortInputs, sameCtx: memoContext.same,
		sameRouters: (*memoLast).sameRouters}
}

// Forget makes the next Compute decide every port anew (the agent's passes never need it: a
// full pass keeps the memo, whose inputs are exact; the equivalence tests use it).
func (m *Memo) Forget() {
	m.ctx = memoContext{} // never the same as a Compute's: the next one moves since on
	m.last = memoLast{}
}

// Compute is exposure.Compute, reusing the results of the ports whose inputs did not change
// since the last call.
func (m *Memo) Compute(st ovnstate.State, node ovnstate.Identity, policy Policy) (Desired, []Finding) {
	if d, f, ok := m.computeChanged(st, node, policy); ok {
		return d, f
	}
	m.last = memoLast{}
	c := newComputer(st, node, policy, nil)
	m.pass++
	m.Hits, m.Misses = 0, 0
	ctx := memoContext{valid: true, chassis: node.Chassis, mappings: node.BridgeMappings, facts: node.Facts, policy: c.policy}
	if c.policy.Allowed[KindVM].Provider {
		c.providerSubnetsOf("")
		ctx.provSubnets = c.providerSubnets
	}
	if !m.sameCtx(m.ctx, ctx) {
		m.since = m.pass // every port's decision reads the context: decide all anew
		m.ctx = ctx.clone()
	}
	c.memo = m
	d, findings := c.run()
	m.exposures = len(d.Exposures)
	if len(m.ports) > m.Hits+m.Misses {
		maps.DeleteFunc(m.ports, func(_ string, e *portMemo) bool { return e.seen != m.pass })
	}
	m.keepIndexes(c)
	return d, findings
}

// providerPort is computer.providerPort, reused when its inputs are the last pass's.
func (m *Memo) providerPort(c *computer, ls *ovnstate.LogicalSwitch, pn providerNet, p ovnstate.LogicalSwitchPort) {
	e := m.ports[p.Name]
	if e != nil && e.seen == m.pass {
		// A second port of the same name: its addresses are the first one's (computer.vmPortAddrs),
		// whatever its own say. Rare and never kept.
		m.last.dups = true
		c.providerPort(ls, pn, p)
		return
	}
	b, bound := c.st.Bindings.Get(p.Name)
	if e != nil && e.seen >= m.since && m.samePort(e, ls.Name, pn, p, b, bound) {
		m.visits = append(m.visits, visit{e: e, at: int32(len(c.exposures)), n: int32(len(e.exposures))})
		for _, x := range e.exposures {
			c.exposures = append(c.exposures, *x)
		}
		c.findings = append(c.findings, e.findings...)
		e.seen, e.lsIdx = m.pass, c.switchIdx
		m.Hits++
		return
	}
	m.Misses++
	ne, nf := len(c.exposures), len(c.findings)
	c.providerPort(ls, pn, p)
	if e == nil {
		e = &portMemo{}
		m.ports[p.Name] = e
	}
	// Its exposures are pointed to once the list is sorted (pointVisited); the slice is
	// the memo's own, reused.
	*e = portMemo{lsIdx: c.switchIdx, ls: ls.Name, pn: pn, lsp: p, b: b, bound: bound, addrs: c.portIPs[p.Name],
		exposures: e.exposures[:0], findings: slices.Clone(c.findings[nf:]), seen: m.pass}
	m.visits = append(m.visits, visit{e: e, at: int32(ne), n: int32(len(c.exposures) - ne)})
}

// pointVisited points the exposures of every port the whole Compute visited into its sorted
// list, moved saying where each one went.
func (m *Memo) pointVisited(sorted []Exposure, moved []int32) {
	for _, v := range m.visits {
		x := slices.Grow(v.e.exposures[:0], int(v.n))[:v.n]
		for k := range x {
			x[k] = &sorted[moved[v.at+int32(k)]]
		}
		v.e.exposures = x
	}
	clear(m.visits)
	m.visits = m.visits[:0]
}

// visited returns the addresses of a port the current Compute has already decided.
func (m *Memo) visited(port string) ([]netip.Addr, bool) {
	if e := m.ports[port]; e != nil && e.seen == m.pass {
		return e.addrs, true
	}
	return nil, false
}

// samePortInputs reports whether a port's inputs are those its memoised result came from.
func samePortInputs(m *portMemo, ls string, pn providerNet, p ovnstate.LogicalSwitchPort, b ovnstate.PortBinding, bound bool) bool {
	return m.ls == ls && m.pn == pn && m.bound == bound && sameBinding(m.b, b) && sameLSP(m.lsp, p)
}

func sameBinding(a, b ovnstate.PortBinding) bool {
	return a.LogicalPort == b.LogicalPort && a.Type == b.Type && a.Chassis == b.Chassis &&
		a.RequestedChassis == b.RequestedChassis && sameSlice(a.AdditionalChassis, b.AdditionalChassis)
}

func sameLSP(a, b ovnstate.LogicalSwitchPort) bool {
	return a.UUID == b.UUID && a.Name == b.Name && a.Type == b.Type && a.Tag == b.Tag &&
		sameSlice(a.Addresses, b.Addresses) && sameMap(a.Options, b.Options) && sameMap(a.ExternalIDs, b.ExternalIDs)
}

// sameSlice compares two slices of a State, by identity first (the same backing array and
// length: an unchanged row's slice, shared from pass to pass), element by element otherwise.
func sameSlice(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}

// sameMap compares two maps of a State, by identity first: the snapshot shares an unchanged
// row's maps from pass to pass.
func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() {
		return true
	}
	return maps.Equal(a, b)
}

func (x memoContext) same(y memoContext) bool {
	return x.valid && y.valid && x.chassis == y.chassis && maps.Equal(x.mappings, y.mappings) &&
		reflect.DeepEqual(x.facts, y.facts) && reflect.DeepEqual(x.policy, y.policy) &&
		reflect.DeepEqual(x.provSubnets, y.provSubnets)
}

// clone copies what the caller may reuse: the Memo keeps the context beyond the call.
func (x memoContext) clone() memoContext {
	x.mappings = maps.Clone(x.mappings)
	x.facts.Addresses = slices.Clone(x.facts.Addresses)
	x.facts.Peers = slices.Clone(x.facts.Peers)
	x.facts.Endpoints = slices.Clone(x.facts.Endpoints)
	x.policy.AddressScopes = slices.Clone(x.policy.AddressScopes)
	if x.policy.Allowed != nil {
		allowed := make(map[Kind]Allowed, len(x.policy.Allowed))
		for k, a := range x.policy.Allowed {
			a.Prefixes = slices.Clone(a.Prefixes)
			allowed[k] = a
		}
		x.policy.Allowed = allowed
	}
	return x
}
