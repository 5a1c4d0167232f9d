//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// BenchmarkPassOneEvent measures one event's pass end to end, as the agent runs it on a node
// that already exposes n VMs: reconcile.Passer with the real Memo and handover, and the real
// address and wiring appliers in a network namespace (bgp-nic and br-ex are bridges: the
// host has no dummy module). Each iteration binds one more VM port here, then unbinds it
// again, the way the plain OVN state hands a pass one changed binding (eventSource). As in
// integration/scale, the node also hosts n/100 routers' gateways (at most 10) with n/20
// floating IPs. Besides
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
			cpu0 := processCPU()
			for b.Loop() {
				src.toggle()
				if err := p.Pass(ctx, false); err != nil {
					b.Fatalf("event pass: %v", err)
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0)
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
			if got := len(a.addrs.set); got != n+src.routed {
				b.Fatalf("first pass: %d addresses on bgp-nic, want %d", got, n+src.routed)
			}
			b.ReportAllocs()
			b.ResetTimer()
			*ta, *tw = timedApplier{Applier: a, src: src}, timedApplier{Applier: w, src: src}
			cpu0 := processCPU()
			for b.Loop() {
				src.toggle()
				if err := p.Pass(ctx, false); err != nil {
					b.Fatalf("event pass: %v", err)
				}
			}
			b.StopTimer()
			// CPU time, GC included, does not depend on what else the machine runs.
			reportCPU(b, cpu0)
			for _, m := range []struct {
				unit string
				d    time.Duration
			}{{"addr-bind-us", ta.bind}, {"addr-unbind-us", ta.unbind}, {"wire-bind-us", tw.bind}, {"wire-unbind-us", tw.unbind}} {
				b.ReportMetric(float64(m.d.Microseconds())/float64(max(b.N/2, 1)), m.unit)
			}
			want := n + src.routed
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

// eventSource is a reconcile.Source over n VM ports on one provider network, all bound to
// this node, and one more port that toggle binds here or unbinds. Like the plain OVN state
// (internal/ovn), it never writes a State it handed out: a changed binding comes in a new
// map.
type eventSource struct {
	id         ovnstate.Identity
	st         ovnstate.State
	extra      string
	extraBound bool
	routed     int // the routers' addresses: gateways and floating IPs
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
	// Routers as integration/scale makes them: n/100 (at most 10), each with its gateway on
	// the provider network hosted here and n/20 floating IPs spread over them, to tenant VMs.
	switches := []ovnstate.LogicalSwitch{}
	var routers []ovnstate.LogicalRouter
	nr := min(max(n/100, 1), 10)
	for r := range nr {
		gw, priv := fmt.Sprintf("srgw%d", r), fmt.Sprintf("srpriv%d", r)
		lr := ovnstate.LogicalRouter{UUID: fmt.Sprintf("lr-%d", r), Name: fmt.Sprintf("sr%d", r), Ports: []ovnstate.LogicalRouterPort{
			{UUID: "lrp-" + gw, Name: gw, MAC: fmt.Sprintf("fa:16:01:00:00:%02x", r), Networks: []string{fmt.Sprintf("100.120.0.%d/10", 1+r)}},
			{UUID: "lrp-" + priv, Name: priv, MAC: fmt.Sprintf("fa:16:02:00:00:%02x", r), Networks: []string{fmt.Sprintf("10.0.%d.1/24", r)}}}}
		ls.Ports = append(ls.Ports, ovnstate.LogicalSwitchPort{UUID: "lsp-scale-" + lr.Name, Name: "scale-" + lr.Name, Type: "router",
			Addresses: []string{"router"}, Options: map[string]string{"router-port": gw}})
		bindings["cr-"+gw] = ovnstate.PortBinding{LogicalPort: "cr-" + gw, Type: "chassisredirect", Chassis: "compute-0"}
		tenant := ovnstate.LogicalSwitch{UUID: fmt.Sprintf("ls-sp%d", r), Name: fmt.Sprintf("sp%d", r), Ports: []ovnstate.LogicalSwitchPort{{
			UUID: "lsp-sp-" + lr.Name, Name: fmt.Sprintf("sp%d-%s", r, lr.Name), Type: "router", Addresses: []string{"router"},
			Options: map[string]string{"router-port": priv}}}}
		for k := range max(n/20/nr, 1) {
			port, ip := fmt.Sprintf("tvm%d-%d", r, k), fmt.Sprintf("10.0.%d.%d", r, k+10)
			m := fmt.Sprintf("fa:16:04:%02x:%02x:%02x", r, byte(k>>8), byte(k))
			tenant.Ports = append(tenant.Ports, ovnstate.LogicalSwitchPort{UUID: "lsp-" + port, Name: port, Addresses: []string{m + " " + ip}})
			bindings[port] = ovnstate.PortBinding{LogicalPort: port, Chassis: "compute-0"}
			fip := netip.AddrFrom4([4]byte{100, 110, byte((r*1000 + k) >> 8), byte(r*1000 + k)})
			lr.NAT = append(lr.NAT, ovnstate.NAT{UUID: "nat-" + port, Type: "dnat_and_snat", ExternalIP: fip.String(),
				ExternalMAC: m, LogicalIP: ip, LogicalPort: port})
		}
		slices.SortFunc(tenant.Ports, func(a, b ovnstate.LogicalSwitchPort) int { return strings.Compare(a.Name, b.Name) })
		switches = append(switches, tenant)
		routers = append(routers, lr)
	}
	// The plain state hands the ports sorted by name, the switches and routers too.
	slices.SortFunc(ls.Ports, func(a, b ovnstate.LogicalSwitchPort) int { return strings.Compare(a.Name, b.Name) })
	switches = append(switches, ls)
	slices.SortFunc(switches, func(a, b ovnstate.LogicalSwitch) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(routers, func(a, b ovnstate.LogicalRouter) int { return strings.Compare(a.Name, b.Name) })
	return &eventSource{
		id: ovnstate.Identity{Chassis: "compute-0", BridgeMappings: map[string]string{"physnet1": "br-ex"},
			IntegrationBridge: "br-int"},
		st:     ovnstate.State{Switches: switches, Routers: routers, Bindings: ovnstate.NewBindings(bindings)},
		extra:  fmt.Sprintf("vm%d", n),
		routed: nr + nr*max(n/20/nr, 1),
	}
}

// toggle binds the extra port here, or unbinds it: new Bindings with the delta from
// the last one, as internal/ovn's bindings state hands it over.
func (s *eventSource) toggle() {
	s.extraBound = !s.extraBound
	b := s.st.Bindings.Without(s.extra)
	if s.extraBound {
		b = s.st.Bindings.With(s.extra, ovnstate.PortBinding{LogicalPort: s.extra, Chassis: s.id.Chassis})
	}
	s.st.BindingsDelta = &ovnstate.BindingsDelta{From: s.st.Bindings, Ports: []string{s.extra}}
	s.st.Bindings = b
}

func (s *eventSource) Read(context.Context, bool) (ovnstate.Identity, ovnstate.State, error) {
	return s.id, s.st, nil
}
