package exposure

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// memoCloud is newCloud with more to memoise: a VLAN provider network (physnet2, tag 100),
// a provider network this node has no mapping for (physnet9), and VM ports on all of them.
func memoCloud() (ovnstate.State, ovnstate.Identity) {
	c := newCloud().gatewayOn(me).fip("172.24.4.100", "vm-p0", "fa:16:3e:ff:00:01")
	vlan := localnet("physnet2")
	vlan.Tag = 100
	c.st.Switches = append(c.st.Switches,
		ovnstate.LogicalSwitch{Name: "vlan-net", Ports: []ovnstate.LogicalSwitchPort{vlan}},
		ovnstate.LogicalSwitch{Name: "far", Ports: []ovnstate.LogicalSwitchPort{localnet("physnet9")}})
	for i := range 6 {
		c.vm("public", fmt.Sprintf("vm-p%d", i), []string{me, "compute-1", ""}[i%3], fmt.Sprintf("172.24.4.%d", 10+i), fmt.Sprintf("2001:db8:4::%x", 10+i))
		c.vm("vlan-net", fmt.Sprintf("vm-v%d", i), []string{me, "compute-1"}[i%2], fmt.Sprintf("198.51.100.%d", 10+i))
		c.vm("private", fmt.Sprintf("vm-t%d", i), []string{me, "compute-1"}[i%2], fmt.Sprintf("10.0.0.%d", 10+i))
	}
	c.vm("far", "vm-f0", me, "203.0.113.10")
	id := ovnstate.Identity{Chassis: me, BridgeMappings: map[string]string{"physnet1": "br-ex", "physnet2": "br-vlan"}}
	return c.st, id
}

// cloneState copies what a step changes: the switches' and routers' slices and the
// bindings. Rows are replaced, never edited, as the OVN snapshot does.
func cloneState(st ovnstate.State) ovnstate.State {
	out := st
	out.Switches = slices.Clone(st.Switches)
	for i := range out.Switches {
		out.Switches[i].Ports = slices.Clone(out.Switches[i].Ports)
	}
	out.Routers = slices.Clone(st.Routers)
	for i := range out.Routers {
		out.Routers[i].Ports = slices.Clone(out.Routers[i].Ports)
	}
	out.Bindings = ovnstate.NewBindings(st.Bindings.Map())
	out.BindingsDelta = nil
	return out
}

// memoBindingEvent is a step as the snapshot hands over an SB event: one to three bindings
// changed (VM ports of any network, the gateway's chassisredirect port, a port no switch
// has), in a new map, with the delta from the last one; the switches are the same slice.
// lie leaves one changed port out of the delta.
func memoBindingEvent(r *rand.Rand, st *ovnstate.State, lie bool) string {
	chassis := []string{me, "compute-1", ""}
	old := st.Bindings
	nb := old
	var names []string
	for range 1 + r.IntN(3) {
		sw := st.Switches[r.IntN(len(st.Switches))]
		name := "vm-nowhere"
		if p := sw.Ports[r.IntN(len(sw.Ports))]; vmPortTypes[p.Type] {
			name = p.Name
		}
		b := ovnstate.PortBinding{LogicalPort: name, Chassis: chassis[r.IntN(3)]}
		switch r.IntN(6) {
		case 0:
			nb = nb.Without(name)
		case 1:
			b.RequestedChassis = chassis[r.IntN(3)]
			nb = nb.With(name, b)
		case 2:
			name = "cr-lrp-gw"
			nb = nb.With(name, ovnstate.PortBinding{LogicalPort: name, Type: "chassisredirect", Chassis: chassis[r.IntN(3)]})
		default:
			nb = nb.With(name, b)
		}
		names = append(names, name)
	}
	st.Bindings = nb
	if lie {
		names = names[1:]
	}
	st.BindingsDelta = &ovnstate.BindingsDelta{From: old, Ports: names}
	if r.IntN(10) == 0 {
		st.BindingsDelta = nil // a source that does not say
	}
	return fmt.Sprintf("bindings of %v changed", names)
}

// memoStep changes one input of the state, the identity or the policy at random.
func memoStep(r *rand.Rand, st *ovnstate.State, id *ovnstate.Identity, pol *Policy, step int) string {
	sw := &st.Switches[r.IntN(len(st.Switches))]
	var vms []int
	for i, p := range sw.Ports {
		if vmPortTypes[p.Type] {
			vms = append(vms, i)
		}
	}
	pick := func() *ovnstate.LogicalSwitchPort {
		if len(vms) == 0 {
			return nil
		}
		return &sw.Ports[vms[r.IntN(len(vms))]]
	}
	addrs := []string{"fa:16:3e:aa:00:01 172.24.4.50", "fa:16:3e:aa:00:02 172.24.4.10", "fa:16:3e:aa:00:03 198.51.100.99 2001:db8:4::99",
		"fa:16:3e:aa:00:04 999.1.1.1 172.24.4.51", "not-a-mac 172.24.4.52", "fa:16:3e:aa:00:05", "fa:16:3e:aa:00:06 10.0.0.77", "router"}
	chassis := []string{me, "compute-1", ""}
	switch k := r.IntN(14); k {
	case 0, 1: // a port's addresses
		if p := pick(); p != nil {
			p.Addresses = []string{addrs[r.IntN(len(addrs))]}
			return "addresses of " + p.Name
		}
	case 2, 3, 4: // a binding moves, starts or ends a live migration, goes away
		if p := pick(); p != nil {
			b := ovnstate.PortBinding{LogicalPort: p.Name, Chassis: chassis[r.IntN(3)]}
			switch r.IntN(4) {
			case 0:
				b.RequestedChassis = chassis[r.IntN(3)]
			case 1:
				b.AdditionalChassis = []string{chassis[r.IntN(3)]}
			case 2:
				st.Bindings = st.Bindings.Without(p.Name)
				return "binding of " + p.Name + " deleted"
			}
			st.Bindings = st.Bindings.With(p.Name, b)
			return "binding of " + p.Name
		}
	case 5: // a new port, sometimes named like one on another switch
		name := fmt.Sprintf("vm-new%d", step)
		if r.IntN(3) == 0 {
			name = "vm-p1"
		}
		sw.Ports = append(sw.Ports, vm(name, addrs[r.IntN(len(addrs))]))
		st.Bindings = st.Bindings.With(name, ovnstate.PortBinding{LogicalPort: name, Chassis: chassis[r.IntN(3)]})
		return "port " + name + " added to " + sw.Name
	case 6: // a port deleted
		if len(vms) > 0 {
			i := vms[r.IntN(len(vms))]
			name := sw.Ports[i].Name
			sw.Ports = slices.Delete(sw.Ports, i, i+1)
			return "port " + name + " deleted"
		}
	case 7: // neutron:cidrs (the NDP proxy address) or a virtual port's VIP
		if p := pick(); p != nil {
			p.ExternalIDs = map[string]string{"neutron:cidrs": []string{"2001:db8:4::99/64", "2001:db8:4::10/64", "172.24.4.60/24", "bad"}[r.IntN(4)]}
			if r.IntN(2) == 0 {
				p.Type, p.Options = "virtual", map[string]string{"virtual-ip": []string{"172.24.4.61", "x"}[r.IntN(2)]}
			}
			return "external_ids/options of " + p.Name
		}
	case 8: // the node's bridge mappings
		m := maps.Clone(id.BridgeMappings)
		if _, ok := m["physnet2"]; ok {
			delete(m, "physnet2")
		} else {
			m["physnet2"] = "br-vlan"
		}
		if r.IntN(3) == 0 {
			m["physnet9"] = "br-far"
		}
		id.BridgeMappings = m
		return "bridge mappings"
	case 9: // the node's own addresses (the infrastructure guard)
		id.Facts.Addresses = []netip.Prefix{[]netip.Prefix{netip.MustParsePrefix("172.24.4.50/32"), netip.MustParsePrefix("198.51.100.0/24"),
			netip.MustParsePrefix("192.0.2.1/24")}[r.IntN(3)]}
		return "node facts"
	case 10: // the VM allow-list
		switch r.IntN(3) {
		case 0:
			pol.Allowed = nil
		case 1:
			pol.Allowed = map[Kind]Allowed{KindVM: {Provider: true}}
		case 2:
			pol.Allowed = map[Kind]Allowed{KindVM: {Prefixes: []netip.Prefix{netip.MustParsePrefix("172.24.4.0/28")}}}
		}
		return "policy allow-list"
	case 11: // a provider subnet (the "provider" allow-list reads it)
		rt := &st.Routers[0]
		rt.Ports[0].Networks = []string{[]string{"172.24.4.1/24", "172.24.4.1/27"}[r.IntN(2)], "2001:db8:4::1/64"}
		return "router gateway networks"
	case 12: // the VLAN network's tag
		for i := range st.Switches {
			if st.Switches[i].Name == "vlan-net" {
				st.Switches[i].Ports[0].Tag = []int{100, 200, 0}[r.IntN(3)]
			}
		}
		return "VLAN tag"
	case 13: // the chassis, and the tenant policy
		pol.TenantNetworks = !pol.TenantNetworks
		if r.IntN(4) == 0 {
			id.Chassis = chassis[r.IntN(2)]
		}
		return "tenant policy / chassis"
	}
	return "nothing"
}

// memoSequence runs a sequence of random changes through m and through Compute, and returns
// the first difference between their results, and how many ports m reused. events of every
// two steps (0, 1 or 2) are binding events as the snapshot hands them over
// (memoBindingEvent, lying when lie is set).
func memoSequence(m *Memo, seed uint64, steps int, events int, lie bool) (string, int) {
	r := rand.New(rand.NewPCG(seed, 17))
	st, id := memoCloud()
	var pol Policy
	hits := 0
	// Every Desired the Memo handed out, with Compute's equal one: the Memo shares exposures
	// between passes, and one it handed out must never change.
	type handed struct{ got, want Desired }
	var earlier []handed
	for step := range steps {
		what := "start"
		switch {
		case step == 0:
		case r.IntN(2) < events:
			what = memoBindingEvent(r, &st, lie)
		default:
			st = cloneState(st)
			for range 1 + r.IntN(2) {
				what = memoStep(r, &st, &id, &pol, step)
			}
		}
		if step%37 == 36 {
			m.Forget() // a full pass
		}
		wantD, wantF := Compute(st, id, pol)
		gotD, gotF := m.Compute(st, id, pol)
		hits += m.Hits
		if diff := cmp.Diff(wantD, gotD, cmpAddrs); diff != "" {
			return fmt.Sprintf("step %d (%s): Desired differs (-Compute +Memo):\n%s", step, what, diff), hits
		}
		if diff := cmp.Diff(wantF, gotF, cmpAddrs); diff != "" {
			return fmt.Sprintf("step %d (%s): findings differ (-Compute +Memo):\n%s", step, what, diff), hits
		}
		earlier = append(earlier, handed{gotD, wantD})
	}
	for step, h := range earlier {
		if diff := cmp.Diff(h.want, h.got, cmpAddrs); diff != "" {
			return fmt.Sprintf("the Desired handed out at step %d changed afterwards (-then +now):\n%s", step, diff), hits
		}
	}
	return "", hits
}

var cmpAddrs = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })}

// TestMemoEqualsCompute: a Memo's results equal Compute's, exposures and findings in the
// same order, through random sequences of changes to every input a provider port's decision
// reads (the port, its binding, its network's mapping and VLAN, the node's facts, the
// policy, the provider subnets), and the memo does reuse results.
func TestMemoEqualsCompute(t *testing.T) {
	for seed := range uint64(20) {
		m := NewMemo()
		diff, hits := memoSequence(m, seed, 150, 0, false)
		if diff != "" {
			t.Fatalf("seed %d: %s", seed, diff)
		}
		if hits < 500 {
			t.Errorf("seed %d: %d ports reused in 150 passes: the memo hardly memoises", seed, hits)
		}
	}
}

// TestMemoOnChangedBindingsEqualsCompute: with half the steps binding events as the snapshot
// hands them over (a new bindings map, the delta from the last one, the same switches), the
// Memo, which then decides only the changed bindings' ports and splices their exposures in,
// still equals Compute, and does work that way.
func TestMemoOnChangedBindingsEqualsCompute(t *testing.T) {
	for seed := range uint64(40) {
		// Mixed with every other kind of change: ports with findings, names used twice and
		// prefixes claimed twice make some of them whole passes.
		if diff, _ := memoSequence(NewMemo(), seed, 150, 1, false); diff != "" {
			t.Fatalf("seed %d, mixed: %s", seed, diff)
		}
		// Binding events alone: nearly all work on the changed bindings alone (a tenth of
		// them come without a delta).
		m := NewMemo()
		if diff, _ := memoSequence(m, seed, 150, 2, false); diff != "" {
			t.Fatalf("seed %d, events: %s", seed, diff)
		}
		if m.changedOnly < 110 {
			t.Errorf("seed %d: only %d of 149 binding events worked on the changed bindings alone", seed, m.changedOnly)
		}
	}
	// A delta that leaves a changed binding out makes a difference: the test would see
	// a Memo that lost track of a change.
	found := false
	for seed := range uint64(40) {
		if diff, _ := memoSequence(NewMemo(), seed, 150, 2, true); diff != "" {
			found = true
			break
		}
	}
	if !found {
		t.Error("a delta missing a changed binding went unnoticed")
	}
	// A Memo that keeps the routers' part whatever changed is caught too: floating IPs,
	// gateways and tenant VMs read bindings of their own.
	found = false
	for seed := range uint64(40) {
		m := NewMemo()
		m.sameRouters = func(*memoLast, ovnstate.State, []string) bool { return true }
		if diff, _ := memoSequence(m, seed, 150, 1, false); diff != "" {
			found = true
			break
		}
	}
	if !found {
		t.Error("a memo blind to the routers' bindings went unnoticed")
	}
}

// TestMemoForgetDecidesEveryPortAnew: after Forget (a full pass) and after a change of the
// shared context, a Compute reuses no result, although the memo keeps its entries to reuse
// their allocations; the Compute after that reuses them all again.
func TestMemoForgetDecidesEveryPortAnew(t *testing.T) {
	st, id := state10k(), node
	m := NewMemo()
	m.Compute(st, id, Policy{})
	ports := m.Misses
	for _, c := range []struct {
		name   string
		change func()
	}{
		{"Forget", m.Forget},
		{"another chassis", func() { id.Chassis = "compute-1" }},
	} {
		c.change()
		m.Compute(st, id, Policy{})
		if m.Hits != 0 || m.Misses != ports {
			t.Errorf("%s: %d ports reused, %d decided anew; want 0 and %d", c.name, m.Hits, m.Misses, ports)
		}
		m.Compute(st, id, Policy{})
		if m.Hits != ports || m.Misses != 0 {
			t.Errorf("%s, then nothing: %d ports reused, %d decided anew; want %d and 0", c.name, m.Hits, m.Misses, ports)
		}
	}
}

// TestMemoEquivalenceCatchesAMissingInput shows that TestMemoEqualsCompute would fail if the
// memo's key forgot an input: each variant drops one, and the sequence finds a difference.
func TestMemoEquivalenceCatchesAMissingInput(t *testing.T) {
	for name, same := range map[string]func(m *portMemo, ls string, pn providerNet, p ovnstate.LogicalSwitchPort, b ovnstate.PortBinding, bound bool) bool{
		"binding": func(m *portMemo, ls string, pn providerNet, p ovnstate.LogicalSwitchPort, _ ovnstate.PortBinding, _ bool) bool {
			return m.ls == ls && m.pn == pn && sameLSP(m.lsp, p)
		},
		"requested-chassis": func(m *portMemo, ls string, pn providerNet, p ovnstate.LogicalSwitchPort, b ovnstate.PortBinding, bound bool) bool {
			b.RequestedChassis = m.b.RequestedChassis
			return samePortInputs(m, ls, pn, p, b, bound)
		},
		"external_ids": func(m *portMemo, ls string, pn providerNet, p ovnstate.LogicalSwitchPort, b ovnstate.PortBinding, bound bool) bool {
			p.ExternalIDs = m.lsp.ExternalIDs
			return samePortInputs(m, ls, pn, p, b, bound)
		},
		"provider network": func(m *portMemo, ls string, _ providerNet, p ovnstate.LogicalSwitchPort, b ovnstate.PortBinding, bound bool) bool {
			return samePortInputs(m, ls, m.pn, p, b, bound)
		},
	} {
		found := false
		for seed := range uint64(20) {
			m := NewMemo()
			m.samePort = same
			if diff, _ := memoSequence(m, seed, 150, 0, false); diff != "" {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("a memo blind to the port's %s went unnoticed", name)
		}
	}
	// The shared context: a memo that never notices it change.
	found := false
	for seed := range uint64(20) {
		m := NewMemo()
		m.sameCtx = func(memoContext, memoContext) bool { return true }
		if diff, _ := memoSequence(m, seed, 150, 0, false); diff != "" {
			found = true
			break
		}
	}
	if !found {
		t.Error("a memo blind to the shared context went unnoticed")
	}
}

// TestSameRowValuesByIdentityOrContent: the memo's row comparisons take a shared map or slice
// as equal at once, and compare anything else by content: a different map or slice with
// other content is never taken for the last pass's.
func TestSameRowValuesByIdentityOrContent(t *testing.T) {
	m := map[string]string{"a": "1", "b": "2"}
	s := []string{"x", "y", "z"}
	for _, c := range []struct {
		what string
		got  bool
		want bool
	}{
		{"the same map", sameMap(m, m), true},
		{"an equal map", sameMap(m, map[string]string{"a": "1", "b": "2"}), true},
		{"a map with another value", sameMap(m, map[string]string{"a": "1", "b": "3"}), false},
		{"a map with another key", sameMap(m, map[string]string{"a": "1", "c": "2"}), false},
		{"nil and empty maps", sameMap(nil, map[string]string{}), true},
		{"the same slice", sameSlice(s, s), true},
		{"an equal slice", sameSlice(s, []string{"x", "y", "z"}), true},
		{"a slice with another element", sameSlice(s, []string{"x", "y", "w"}), false},
		{"a shorter view of the same array", sameSlice(s, s[:2]), false},
		{"another view of the same array", sameSlice(s[:2], s[1:]), false},
		{"nil and empty slices", sameSlice(nil, []string{}), true},
	} {
		if c.got != c.want {
			t.Errorf("%s: same = %v, want %v", c.what, c.got, c.want)
		}
	}
}
