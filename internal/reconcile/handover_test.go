package reconcile

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

var vmPrefix = netip.MustParsePrefix("172.24.4.30/32")

func vmExposed() exposure.Desired {
	return exposure.Desired{Exposures: []*exposure.Exposure{{Prefix: vmPrefix, Kind: exposure.KindVM, Object: "Logical_Switch_Port vmM", Port: "vmM"}}}
}

func boundTo(chassis, requested string) ovnstate.State {
	return ovnstate.State{Bindings: ovnstate.NewBindings(map[string]ovnstate.PortBinding{"vmM": {LogicalPort: "vmM", Chassis: chassis, RequestedChassis: requested}})}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestHandover() (*handover, *fakeClock) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	h := newHandover(nil)
	h.now = c.now
	return h, c
}

func announced(d exposure.Desired) bool {
	_, ok := d.Lookup(vmPrefix)
	return ok
}

func TestHandoverTarget(t *testing.T) {
	h, clock := newTestHandover()
	// Bound on node-a: nothing here.
	if d, _ := h.apply(exposure.Desired{}, boundTo("node-a", "node-a"), "node-b"); announced(d) {
		t.Fatal("announced before the binding moved")
	}
	// The binding moves here: announced at once, with the worse MED.
	d, arriving := h.apply(vmExposed(), boundTo("node-b", "node-b"), "node-b")
	if !announced(d) || !arriving[vmPrefix] {
		t.Fatalf("after the move: announced %v, arriving %v; want both", announced(d), arriving[vmPrefix])
	}
	clock.advance(arriveHold)
	if _, arriving := h.apply(vmExposed(), boundTo("node-b", "node-b"), "node-b"); arriving[vmPrefix] {
		t.Error("still arriving after the hold")
	}
}

func TestHandoverSource(t *testing.T) {
	h, clock := newTestHandover()
	h.apply(vmExposed(), boundTo("node-a", "node-a"), "node-a")
	// requested-chassis moved on: the core stops exposing; the source keeps announcing.
	d, arriving := h.apply(exposure.Desired{}, boundTo("node-a", "node-b"), "node-a")
	if !announced(d) || arriving[vmPrefix] {
		t.Fatalf("right after the move: announced %v, arriving %v; want announced, not arriving", announced(d), arriving[vmPrefix])
	}
	clock.advance(departHold / 2)
	if d, _ := h.apply(exposure.Desired{}, boundTo("node-b", "node-b"), "node-a"); !announced(d) {
		t.Error("withdrawn before the departure hold was over")
	}
	clock.advance(departHold)
	if d, _ := h.apply(exposure.Desired{}, boundTo("node-b", "node-b"), "node-a"); announced(d) {
		t.Error("still announced after the departure hold")
	}
	if d, _ := h.apply(exposure.Desired{}, boundTo("node-b", "node-b"), "node-a"); announced(d) {
		t.Error("announced again on a later pass")
	}
}

func TestHandoverDeletedPortWithdrawnAtOnce(t *testing.T) {
	h, _ := newTestHandover()
	h.apply(vmExposed(), boundTo("node-a", ""), "node-a")
	if d, _ := h.apply(exposure.Desired{}, ovnstate.State{Bindings: ovnstate.NewBindings(nil)}, "node-a"); announced(d) {
		t.Error("a deleted port must be withdrawn at once")
	}
}

func TestHandoverRestartAdoptsWithoutArriving(t *testing.T) {
	h, _ := newTestHandover()
	if _, arriving := h.apply(vmExposed(), boundTo("node-b", ""), "node-b"); arriving[vmPrefix] {
		t.Error("the first pass after a start must adopt, not treat the VM as arriving")
	}
}

// TestHandoverTargetAfterAnUnboundPass: the source releases the port before the target
// claims it, and a pass may run in between; the target must still treat the VM as arriving.
func TestHandoverTargetAfterAnUnboundPass(t *testing.T) {
	h, _ := newTestHandover()
	h.apply(exposure.Desired{}, boundTo("node-a", "node-a"), "node-b")
	h.apply(exposure.Desired{}, boundTo("", "node-b"), "node-b") // released, not claimed yet
	if _, arriving := h.apply(vmExposed(), boundTo("node-b", "node-b"), "node-b"); !arriving[vmPrefix] {
		t.Error("the VM claimed here after a pass that saw it bound nowhere is not arriving")
	}
}

// TestHandoverTargetKeepsArrivingThroughAFlap: right after the target claims the port, the
// binding can flap (released, or back to the source for a moment, then claimed again: seen
// in TestLiveMigrationNoDuplicateAdvertisement on a loaded machine). A pass that runs in the
// flap withdraws the VM; the pass after it must announce it with the worse MED again while
// the hold lasts, or the ToR forwards on both nodes' paths.
func TestHandoverTargetKeepsArrivingThroughAFlap(t *testing.T) {
	for _, flap := range []string{"", "node-a"} {
		h, clock := newTestHandover()
		h.apply(exposure.Desired{}, boundTo("node-a", "node-a"), "node-b")
		if _, arriving := h.apply(vmExposed(), boundTo("node-b", "node-b"), "node-b"); !arriving[vmPrefix] {
			t.Fatalf("flap via %q: the claimed VM is not arriving", flap)
		}
		clock.advance(100 * time.Millisecond)
		h.apply(exposure.Desired{}, boundTo(flap, "node-b"), "node-b")
		clock.advance(100 * time.Millisecond)
		if _, arriving := h.apply(vmExposed(), boundTo("node-b", "node-b"), "node-b"); !arriving[vmPrefix] {
			t.Errorf("flap via %q: the VM claimed again is announced without the worse MED", flap)
		}
		clock.advance(arriveHold)
		if _, arriving := h.apply(vmExposed(), boundTo("node-b", "node-b"), "node-b"); arriving[vmPrefix] {
			t.Errorf("flap via %q: still arriving after the hold", flap)
		}
	}
}

// BenchmarkHandover10k: one pass's handover on a node announcing 10,000 VMs, one of which
// has just arrived.
func BenchmarkHandover10k(b *testing.B) {
	const n = 10000
	d := exposure.Desired{}
	st := ovnstate.State{Bindings: ovnstate.NewBindings(nil)}
	for i := range n {
		port := fmt.Sprintf("vm%d", i)
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: exposure.HostPrefix(a), Kind: exposure.KindVM, Port: port})
		st.Bindings = st.Bindings.With(port, ovnstate.PortBinding{LogicalPort: port, Chassis: "node-b"})
	}
	h, _ := newTestHandover()
	less := exposure.Desired{Exposures: d.Exposures[:n-1]}
	h.apply(less, st, "node-b")
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			h.apply(d, st, "node-b")
		} else {
			h.apply(less, st, "node-b")
		}
	}
}

// applyAmong is h.apply on a busy node: d with what it announces around the migrating VM
// (172.24.4.30), VMs before and after it and a floating IP, in prefix order, their bindings
// added to st.
func applyAmong(h *handover, d exposure.Desired, st ovnstate.State, me string) (exposure.Desired, map[netip.Prefix]bool) {
	others := []*exposure.Exposure{
		{Prefix: netip.MustParsePrefix("172.24.4.10/32"), Kind: exposure.KindVM, Port: "vmA"},
		{Prefix: netip.MustParsePrefix("172.24.4.20/32"), Kind: exposure.KindFIP, Object: "NAT fip"},
		{Prefix: netip.MustParsePrefix("172.24.4.50/32"), Kind: exposure.KindVM, Port: "vmZ"},
	}
	out := exposure.Desired{Exposures: append(slices.Clone(others), d.Exposures...)}
	slices.SortFunc(out.Exposures, func(a, b *exposure.Exposure) int { return exposure.ComparePrefix(a.Prefix, b.Prefix) })
	bindings := st.Bindings.With("vmA", ovnstate.PortBinding{LogicalPort: "vmA", Chassis: me}).
		With("vmZ", ovnstate.PortBinding{LogicalPort: "vmZ", Chassis: me})
	return h.apply(out, ovnstate.State{Bindings: bindings}, me)
}

// TestHandoverAmongOtherExposures: the source's hold and the target's worse MED for a VM
// whose prefix sits between other VMs and a floating IP; the others stay as they are and the
// result stays in prefix order.
func TestHandoverAmongOtherExposures(t *testing.T) {
	check := func(t *testing.T, d exposure.Desired, want bool, what string) {
		t.Helper()
		if announced(d) != want {
			t.Errorf("%s: announced %v, want %v", what, announced(d), want)
		}
		if len(d.Exposures) != 3+map[bool]int{true: 1}[want] {
			t.Errorf("%s: %d exposures, want the 3 others too: %v", what, len(d.Exposures), d.Exposures)
		}
		if !slices.IsSortedFunc(d.Exposures, func(a, b *exposure.Exposure) int { return exposure.ComparePrefix(a.Prefix, b.Prefix) }) {
			t.Errorf("%s: not in prefix order: %v", what, d.Exposures)
		}
	}
	t.Run("source", func(t *testing.T) {
		h, clock := newTestHandover()
		applyAmong(h, vmExposed(), boundTo("node-a", "node-a"), "node-a")
		d, _ := applyAmong(h, exposure.Desired{}, boundTo("node-a", "node-b"), "node-a")
		check(t, d, true, "right after the move")
		clock.advance(departHold)
		d, _ = applyAmong(h, exposure.Desired{}, boundTo("node-b", "node-b"), "node-a")
		check(t, d, false, "after the hold")
	})
	t.Run("target", func(t *testing.T) {
		h, clock := newTestHandover()
		applyAmong(h, exposure.Desired{}, boundTo("node-a", "node-a"), "node-b")
		out, arriving := applyAmong(h, vmExposed(), boundTo("node-b", "node-b"), "node-b")
		check(t, out, true, "after the move")
		if len(arriving) != 1 || !arriving[vmPrefix] {
			t.Errorf("arriving %v, want only %s", arriving, vmPrefix)
		}
		clock.advance(arriveHold)
		if _, arriving := applyAmong(h, vmExposed(), boundTo("node-b", "node-b"), "node-b"); len(arriving) != 0 {
			t.Errorf("arriving %v after the hold", arriving)
		}
	})
}

// TestHandoverOnChangedBindingsEqualsWhole: a handover told which bindings changed since the
// last pass (State.BindingsDelta) tracks releases and arrivals exactly as one that looks at
// every binding, through random sequences of bindings moving, released and deleted.
func TestHandoverOnChangedBindingsEqualsWhole(t *testing.T) {
	const me = "node-b"
	chassis := []string{"node-a", me, ""}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 3))
		whole, clock := newTestHandover()
		delta, _ := newTestHandover()
		delta.now = clock.now
		bindings := ovnstate.NewBindings(nil)
		for step := range 200 {
			old := bindings
			var ports []string
			for range 1 + r.IntN(3) {
				port := fmt.Sprintf("vm%d", r.IntN(8))
				if r.IntN(6) == 0 {
					bindings = bindings.Without(port)
				} else {
					bindings = bindings.With(port, ovnstate.PortBinding{LogicalPort: port, Chassis: chassis[r.IntN(3)]})
				}
				ports = append(ports, port)
			}
			var d exposure.Desired
			for _, port := range slices.Sorted(maps.Keys(bindings.Map())) {
				if b, _ := bindings.Get(port); b.Chassis == me {
					var n int
					fmt.Sscanf(port, "vm%d", &n)
					d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}), 32),
						Kind: exposure.KindVM, Port: port})
				}
			}
			slices.SortFunc(d.Exposures, func(a, b *exposure.Exposure) int { return exposure.ComparePrefix(a.Prefix, b.Prefix) })
			wantD, wantArr := whole.apply(d, ovnstate.State{Bindings: bindings}, me)
			gotD, gotArr := delta.apply(d, ovnstate.State{Bindings: bindings, BindingsDelta: &ovnstate.BindingsDelta{From: old, Ports: ports}}, me)
			if diff := cmp.Diff(wantD, gotD, cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})); diff != "" {
				t.Fatalf("seed %d step %d: Desired differs (-whole +delta):\n%s", seed, step, diff)
			}
			if diff := cmp.Diff(wantArr, gotArr, cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})); diff != "" {
				t.Fatalf("seed %d step %d: arriving differs (-whole +delta):\n%s", seed, step, diff)
			}
			if diff := cmp.Diff(whole.releasedBy, delta.releasedBy, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("seed %d step %d: released ports differ (-whole +delta):\n%s", seed, step, diff)
			}
			clock.advance(time.Duration(r.IntN(3)) * time.Second)
		}
	}
}

// TestHandoverLeavesHandedOutExposuresAlone: the exposure a departing VM is held with says
// so in its Reason, on a copy: the last pass's Desired, whose exposures a Memo shares with
// later passes, stays as it was handed out.
func TestHandoverLeavesHandedOutExposuresAlone(t *testing.T) {
	h, _ := newTestHandover()
	last := vmExposed()
	reason := last.Exposures[0].Reason
	h.apply(last, boundTo("node-a", "node-a"), "node-a")
	d, _ := h.apply(exposure.Desired{}, boundTo("node-a", "node-b"), "node-a")
	held, ok := d.Lookup(vmPrefix)
	if !ok || !strings.HasPrefix(held.Reason, "departing") {
		t.Fatalf("the departing VM is not held (%v) or its reason does not say so: %q", ok, held.Reason)
	}
	if got := last.Exposures[0].Reason; got != reason {
		t.Errorf("the last pass's exposure changed: Reason %q, was %q", got, reason)
	}
}
