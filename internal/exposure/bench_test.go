package exposure

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// BenchmarkCompute10k: 10,000 VM ports on one provider network, half bound here.
func BenchmarkCompute10k(b *testing.B) { benchCompute10k(b, node) }

// BenchmarkCompute10kGuarded is BenchmarkCompute10k with a node's facts to guard: the cost of
// the infrastructure guard on every exposure.
func BenchmarkCompute10kGuarded(b *testing.B) { benchCompute10k(b, infraNode) }

func benchCompute10k(b *testing.B, id ovnstate.Identity) {
	st := state10k()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, _ := Compute(st, id, Policy{})
		if len(d.Exposures) != 10000 {
			b.Fatalf("got %d exposures", len(d.Exposures))
		}
	}
}

// state10k is 10,000 VM ports on one provider network, the even ones bound to compute-0
// (node), each with an IPv4 and an IPv6 address.
func state10k() ovnstate.State {
	ls := ovnstate.LogicalSwitch{Name: "public", Ports: []ovnstate.LogicalSwitchPort{localnet("physnet1")}}
	bindings := map[string]ovnstate.PortBinding{}
	for i := 0; i < 10000; i++ {
		name := fmt.Sprintf("vm%05d", i)
		ls.Ports = append(ls.Ports, vm(name, fmt.Sprintf("fa:16:3e:00:%02x:%02x 10.%d.%d.%d 2001:db8::%x", i>>8, i&0xff, i>>16, (i>>8)&0xff, i&0xff, i)))
		ch := "compute-0"
		if i%2 == 1 {
			ch = "compute-1"
		}
		bindings[name] = ovnstate.PortBinding{LogicalPort: name, Chassis: ch}
	}
	return ovnstate.State{Switches: []ovnstate.LogicalSwitch{ls}, Bindings: ovnstate.NewBindings(bindings)}
}

// BenchmarkMemoCompute10kOneChanged is BenchmarkCompute10k through a Memo, as the reconcile
// pass runs it: each iteration one port's binding has moved (to this node, then away again)
// since the last Compute, and the other 9,999 ports' results are reused.
func BenchmarkMemoCompute10kOneChanged(b *testing.B) {
	st := state10k()
	m := NewMemo()
	if d, _ := m.Compute(st, node, Policy{}); len(d.Exposures) != 10000 {
		b.Fatalf("got %d exposures", len(d.Exposures))
	}
	benchOneChanged(b, m, st, false)
}

// BenchmarkMemoCompute10kOneChangedDelta is BenchmarkMemoCompute10kOneChanged with the
// State saying which binding changed (BindingsDelta), as the OVN snapshot does: the Memo
// decides that port alone and splices its exposures in, without visiting the others.
func BenchmarkMemoCompute10kOneChangedDelta(b *testing.B) {
	st := state10k()
	m := NewMemo()
	if d, _ := m.Compute(st, node, Policy{}); len(d.Exposures) != 10000 {
		b.Fatalf("got %d exposures", len(d.Exposures))
	}
	benchOneChanged(b, m, st, true)
}

// benchOneChanged moves vm00001 (bound to compute-1) here and away again, one Compute per
// move. A State's maps are never modified: the two bindings maps are made once and taken in
// turn, with the delta from the other one when delta is set.
func benchOneChanged(b *testing.B, m *Memo, st ovnstate.State, delta bool) {
	away := st.Bindings
	here := away.With("vm00001", ovnstate.PortBinding{LogicalPort: "vm00001", Chassis: "compute-0"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to, want := away, here, 10002
		if i%2 == 1 {
			from, to, want = here, away, 10000
		}
		st.Bindings, st.BindingsDelta = to, nil
		if delta {
			st.BindingsDelta = &ovnstate.BindingsDelta{From: from, Ports: []string{"vm00001"}}
		}
		d, _ := m.Compute(st, node, Policy{})
		if len(d.Exposures) != want || m.Misses != 1 {
			b.Fatalf("got %d exposures, %d ports decided anew", len(d.Exposures), m.Misses)
		}
	}
}

// BenchmarkMemoCompute10kOneChangedNeutronRows is BenchmarkMemoCompute10kOneChanged with rows
// shaped like Neutron's: every port has its external_ids (8 keys) and options, which the memo
// compares each pass for each of the 10,000 ports.
func BenchmarkMemoCompute10kOneChangedNeutronRows(b *testing.B) {
	st := state10k()
	for i := range st.Switches[0].Ports {
		p := &st.Switches[0].Ports[i]
		if p.Type != "" {
			continue
		}
		p.Options = map[string]string{"requested-chassis": "compute-0", "mcast_flood_reports": "true"}
		p.ExternalIDs = map[string]string{
			"neutron:cidrs":              "10.0.0.1/8 2001:db8::1/64",
			"neutron:device_id":          "9d1ac64e-2b5a-4a1d-9a4b-" + p.Name,
			"neutron:device_owner":       "compute:nova",
			"neutron:network_name":       "neutron-4f0c2b7e-7c51-4f2b-a3ab-1b0e1c1d2e3f",
			"neutron:port_name":          p.Name,
			"neutron:project_id":         "6b0e6a6f5a2f4c7b9e7f1c2d3e4f5a6b",
			"neutron:revision_number":    "4",
			"neutron:security_group_ids": "0c9a4f5e-7d1b-4f2e-9c3d-5e6f7a8b9c0d",
		}
	}
	m := NewMemo()
	if d, _ := m.Compute(st, node, Policy{}); len(d.Exposures) != 10000 {
		b.Fatalf("got %d exposures", len(d.Exposures))
	}
	benchOneChanged(b, m, st, false)
}

// BenchmarkMemoHeld10k reports the heap a Memo and its last Desired keep at 10,000 ports
// (held-B): what stays live between passes, which the agent's peak RSS follows.
func BenchmarkMemoHeld10k(b *testing.B) {
	st := state10k()
	var held uint64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := NewMemo()
		d, _ := m.Compute(st, node, Policy{})
		// A second whole Compute, as a full pass: the memo then points into its list.
		m.Forget()
		d, _ = m.Compute(st, node, Policy{})
		runtime.GC()
		runtime.ReadMemStats(&after)
		if len(d.Exposures) != 10000 {
			b.Fatalf("got %d exposures", len(d.Exposures))
		}
		held = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(m)
		runtime.KeepAlive(d)
	}
	b.ReportMetric(float64(held), "held-B")
}
