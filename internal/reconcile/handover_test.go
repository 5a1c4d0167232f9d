package reconcile

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

var vmPrefix = netip.MustParsePrefix("172.24.4.30/32")

func vmExposed() exposure.Desired {
	return exposure.Desired{Exposures: []exposure.Exposure{{Prefix: vmPrefix, Kind: exposure.KindVM, Object: "Logical_Switch_Port vmM", Port: "vmM"}}}
}

func boundTo(chassis, requested string) ovnstate.State {
	return ovnstate.State{Bindings: map[string]ovnstate.PortBinding{"vmM": {LogicalPort: "vmM", Chassis: chassis, RequestedChassis: requested}}}
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
	if d, _ := h.apply(exposure.Desired{}, ovnstate.State{Bindings: map[string]ovnstate.PortBinding{}}, "node-a"); announced(d) {
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
