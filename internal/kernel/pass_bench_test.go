//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// BenchmarkPassOneEvent measures one event's pass end to end, as the agent runs it on a node
// that already exposes n VMs: reconcile.Passer with the real Memo and handover, and the real
// address and wiring appliers in a network namespace (bgp-nic and br-ex are bridges: the
// host has no dummy module). Each iteration binds one more VM port here, then unbinds it
// again, the way the plain OVN state hands a pass one changed binding (eventSource). Besides
// the process's CPU per pass, it reports the wall time of the address and wiring appliers in
// the passes that bind and in those that unbind; the rest of ns/op is the source, the Memo
// and the handover, which appliers=none measures alone.
func BenchmarkPassOneEvent(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("vms=%d/appliers=none", n), func(b *testing.B) {
			src := newEventSource(n)
			p := reconcile.NewPasser(reconcile.PassOptions{Source: src})
			ctx := context.Background()
			if err := p.Pass(ctx, true); err != nil {
				b.Fatalf("first (full) pass: %v", err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for b.Loop() {
				src.toggle()
				if err := p.Pass(ctx, false); err != nil {
					b.Fatalf("event pass: %v", err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
		})
		b.Run(fmt.Sprintf("vms=%d/appliers=kernel", n), func(b *testing.B) {
			ns, _, h := newNamedNetns(b)
			addBridge(b, h, "bgp-nic", true)
			addBridge(b, h, "br-ex", true)
			a := newApplierAt(b, ns, Options{NIC: "bgp-nic"})
			a.log = slog.New(slog.DiscardHandler)
			w := newWirerIn(b, ns)
			w.log = slog.New(slog.DiscardHandler)
			src := newEventSource(n)
			ta, tw := &timedApplier{Applier: a, src: src}, &timedApplier{Applier: w, src: src}
			p := reconcile.NewPasser(reconcile.PassOptions{Source: src, Appliers: []reconcile.Applier{ta, tw}})
			ctx := context.Background()
			if err := p.Pass(ctx, true); err != nil {
				b.Fatalf("first (full) pass: %v", err)
			}
			if got := len(a.addrs.set); got != n {
				b.Fatalf("first pass: %d addresses on bgp-nic, want %d", got, n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			*ta, *tw = timedApplier{Applier: a, src: src}, timedApplier{Applier: w, src: src}
			cpu0 := processCPU(b)
			for b.Loop() {
				src.toggle()
				if err := p.Pass(ctx, false); err != nil {
					b.Fatalf("event pass: %v", err)
				}
			}
			b.StopTimer()
			// CPU time, GC included, does not depend on what else the machine runs.
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			for _, m := range []struct {
				unit string
				d    time.Duration
			}{{"addr-bind-us", ta.bind}, {"addr-unbind-us", ta.unbind}, {"wire-bind-us", tw.bind}, {"wire-unbind-us", tw.unbind}} {
				b.ReportMetric(float64(m.d.Microseconds())/float64(max(b.N/2, 1)), m.unit)
			}
			want := n
			if src.extraBound {
				want++
			}
			if got := len(a.addrs.set); got != want {
				b.Fatalf("after the events: %d addresses on bgp-nic, want %d", got, want)
			}
		})
	}
}

// timedApplier adds up the wall time of an applier's passes, those that bind the extra port
// (bind) and those that unbind it apart: the kernel takes longer to delete than to add.
type timedApplier struct {
	reconcile.Applier
	src          *eventSource
	bind, unbind time.Duration
}

func (t *timedApplier) Apply(ctx context.Context, p reconcile.Plan) (reconcile.Report, error) {
	start := time.Now()
	r, err := t.Applier.Apply(ctx, p)
	if t.src.extraBound {
		t.bind += time.Since(start)
	} else {
		t.unbind += time.Since(start)
	}
	return r, err
}

// processCPU is the CPU time this process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// eventSource is a reconcile.Source over n VM ports on one provider network, all bound to
// this node, and one more port that toggle binds here or unbinds. Like the plain OVN state
// (internal/ovn), it never writes a State it handed out: a changed binding comes in a new
// map.
type eventSource struct {
	id         ovnstate.Identity
	st         ovnstate.State
	extra      string
	extraBound bool
}

func newEventSource(n int) *eventSource {
	ls := ovnstate.LogicalSwitch{UUID: "ls-public", Name: "public", Ports: []ovnstate.LogicalSwitchPort{{
		UUID: "lsp-provnet", Name: "provnet-physnet1", Type: "localnet", Addresses: []string{"unknown"},
		Options: map[string]string{"network_name": "physnet1"}}}}
	bindings := map[string]ovnstate.PortBinding{}
	for i := range n + 1 {
		// Named as Neutron's scale tests name them: the name order is not the address
		// order, so the exposures come out of the ports unsorted, as on a real node.
		name := fmt.Sprintf("vm%d", i)
		ip := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})
		ls.Ports = append(ls.Ports, ovnstate.LogicalSwitchPort{UUID: "lsp-" + name, Name: name,
			Addresses:   []string{fmt.Sprintf("fa:16:3e:%02x:%02x:%02x %s", byte(i>>16), byte(i>>8), byte(i), ip)},
			ExternalIDs: map[string]string{"neutron:device_owner": "compute:nova", "neutron:cidrs": ip.String() + "/10"}})
		if i < n {
			bindings[name] = ovnstate.PortBinding{LogicalPort: name, Chassis: "compute-0"}
		}
	}
	// The plain state hands the ports sorted by name.
	slices.SortFunc(ls.Ports, func(a, b ovnstate.LogicalSwitchPort) int { return strings.Compare(a.Name, b.Name) })
	return &eventSource{
		id: ovnstate.Identity{Chassis: "compute-0", BridgeMappings: map[string]string{"physnet1": "br-ex"},
			IntegrationBridge: "br-int"},
		st:    ovnstate.State{Switches: []ovnstate.LogicalSwitch{ls}, Bindings: bindings},
		extra: fmt.Sprintf("vm%d", n),
	}
}

// toggle binds the extra port here, or unbinds it: a new bindings map with the delta from
// the last one, as internal/ovn's bindings state hands it over.
func (s *eventSource) toggle() {
	s.extraBound = !s.extraBound
	b := maps.Clone(s.st.Bindings)
	if s.extraBound {
		b[s.extra] = ovnstate.PortBinding{LogicalPort: s.extra, Chassis: s.id.Chassis}
	} else {
		delete(b, s.extra)
	}
	s.st.BindingsDelta = &ovnstate.BindingsDelta{From: s.st.Bindings, Ports: []string{s.extra}}
	s.st.Bindings = b
}

func (s *eventSource) Read(context.Context, bool) (ovnstate.Identity, ovnstate.State, error) {
	return s.id, s.st, nil
}
