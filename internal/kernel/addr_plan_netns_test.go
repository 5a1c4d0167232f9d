//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// TestAddressEventPassesEqualAFullPass runs random sequences of plans (VMs, floating IPs and
// tenant subnets coming and going, exposures changing kind, live-migration arrivals starting
// and ending) through Apply's event passes only, which work on the exposures that differ
// from the last plan, and checks after each pass that the NIC holds exactly the addresses and
// metrics a whole diff of the plan installs, and that a full pass then changes nothing.
func TestAddressEventPassesEqualAFullPass(t *testing.T) {
	t.Parallel()
	ns, _, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	bg := context.Background()
	kinds := []exposure.Kind{exposure.KindVM, exposure.KindFIP, exposure.KindGateway, exposure.KindTenant}
	// As a Memo hands them out: an exposure that did not change is the same one, pass after
	// pass; a changed one is a new one.
	var pool []*exposure.Exposure
	for i := range 16 {
		pool = append(pool,
			&exposure.Exposure{Prefix: netip.MustParsePrefix(fmt.Sprintf("172.24.4.%d/32", 10+i)), Kind: exposure.KindVM},
			&exposure.Exposure{Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8::%x/128", 0x10+i)), Kind: exposure.KindVM})
	}
	pool = append(pool, &exposure.Exposure{Prefix: netip.MustParsePrefix("10.0.0.0/24"), Kind: exposure.KindTenantSubnet})
	r := rand.New(rand.NewPCG(17, 7))
	on := map[int]bool{}
	arriving := map[netip.Prefix]bool{}
	plan := func() reconcile.Plan {
		var es []*exposure.Exposure
		for i, e := range pool {
			if on[i] {
				es = append(es, e)
			}
		}
		slices.SortFunc(es, func(x, y *exposure.Exposure) int { return exposure.ComparePrefix(x.Prefix, y.Prefix) })
		arr := map[netip.Prefix]bool{}
		for p := range arriving {
			arr[p] = true
		}
		return reconcile.Plan{Desired: exposure.Desired{Exposures: es}, Arriving: arr}
	}
	if _, err := a.Apply(bg, reconcile.Plan{Full: true}); err != nil {
		t.Fatal(err)
	}
	reads := a.addrs.readsNow()
	for step := range 80 {
		for range 1 + r.IntN(3) {
			i := r.IntN(len(pool))
			switch r.IntN(6) {
			case 0:
				e := *pool[i]
				e.Kind = kinds[r.IntN(len(kinds))]
				pool[i] = &e
			case 1:
				arriving[pool[i].Prefix] = !arriving[pool[i].Prefix]
			default:
				on[i] = !on[i]
			}
		}
		p := plan()
		if _, err := a.Apply(bg, p); err != nil {
			t.Fatalf("step %d: event pass: %v", step, err)
		}
		got, err := a.Installed(bg)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(normalisedWant(t, a, p), got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Fatalf("step %d: the NIC after an event pass differs from the plan (-want +got):\n%s", step, diff)
		}
	}
	if got := a.addrs.readsNow() - reads; got != 0 {
		t.Errorf("the event passes read the NIC back %d time(s)", got)
	}
	if a.planPasses < 75 {
		t.Errorf("only %d of 80 event passes worked on the changed exposures only", a.planPasses)
	}
	full := plan()
	full.Full = true
	if rep, err := a.Apply(bg, full); err != nil || len(rep.Changes) > 0 {
		t.Errorf("a full pass after the event passes changed %v (%v)", rep.Changes, err)
	}
}

// normalisedWant is what a whole diff of p puts on the NIC: its host addresses with their
// metrics, sorted.
func normalisedWant(t *testing.T, a *Applier, p reconcile.Plan) []HostAddr {
	t.Helper()
	set, err := a.normalise(hostAddrs(p.Desired, p.Arriving, false))
	if err != nil {
		t.Fatal(err)
	}
	return sortedHost(set)
}
