//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netns"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// incDesired is a Desired over two provider bridges with the given exposures, sorted by
// prefix as exposure.Compute returns them.
func incDesired(es ...exposure.Exposure) exposure.Desired {
	es = slices.Clone(es)
	slices.SortStableFunc(es, func(a, b exposure.Exposure) int { return exposure.ComparePrefix(a.Prefix, b.Prefix) })
	return exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex", Physnet: "physnet1"}, {Name: "br-ex2", Physnet: "physnet2"}}, Exposures: ptrs(es)}
}

// ptrs returns pointers to es's exposures.
func ptrs(es []exposure.Exposure) []*exposure.Exposure {
	out := make([]*exposure.Exposure, len(es))
	for i := range es {
		out[i] = &es[i]
	}
	return out
}

func v6VM(addr, bridge, subnetRouter string) exposure.Exposure {
	return exposure.Exposure{Prefix: netip.MustParsePrefix(addr + "/128"), Kind: exposure.KindVM, Object: "Logical_Switch_Port " + addr,
		Wiring: exposure.Wiring{Bridge: bridge, NDPProxy: netip.MustParseAddr(subnetRouter)}}
}

// TestWiringEventPassKeepsSharedItems: two IPv6 VMs of one subnet share its NDP proxy
// entry; when one leaves, an event's pass removes its rule and route and keeps the proxy,
// which goes only with the last VM. Each pass, run twice, changes nothing the second time.
func TestWiringEventPassKeepsSharedItems(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	addBridge(t, h, "br-ex2", true)
	w := newWirerIn(t, ns)
	bg := context.Background()
	a := v6VM("2001:db8:5::10", "br-ex", "2001:db8:5::")
	b := v6VM("2001:db8:5::11", "br-ex", "2001:db8:5::")
	if _, err := w.SyncWiring(bg, incDesired(a, b)); err != nil {
		t.Fatal(err)
	}
	proxies := func() string { return ipIn(t, name, "-6", "neigh", "show", "proxy", "dev", "br-ex") }
	if got := proxies(); !strings.Contains(got, "2001:db8:5:: ") {
		t.Fatalf("no NDP proxy for the subnet after the full pass:\n%s", got)
	}
	reads := w.items.readsNow()
	twice := func(d exposure.Desired) WiringResult {
		t.Helper()
		res, err := w.SyncWiringChanges(bg, d)
		if err != nil {
			t.Fatalf("event pass: %v", err)
		}
		if again, err := w.SyncWiringChanges(bg, d); err != nil || again.Changed() {
			t.Fatalf("the same event pass again changed %q, removed %q (%v); want nothing", again.Added, again.Removed, err)
		}
		return res
	}

	res := twice(incDesired(b))
	if want := []string{"route 2001:db8:5::10/128 dev br-ex table 3000", "rule to 2001:db8:5::10/128 lookup 3000"}; !cmp.Equal(res.Removed, want) || len(res.Added) != 0 {
		t.Errorf("one VM of two leaving: added %q, removed %q; want removed %q", res.Added, res.Removed, want)
	}
	if got := proxies(); !strings.Contains(got, "2001:db8:5:: ") {
		t.Errorf("the NDP proxy the other VM still needs was removed:\n%s", got)
	}

	res = twice(incDesired())
	if want := []string{"neigh proxy 2001:db8:5:: dev br-ex", "route 2001:db8:5::11/128 dev br-ex table 3000", "rule to 2001:db8:5::11/128 lookup 3000"}; !cmp.Equal(res.Removed, want) {
		t.Errorf("the last VM leaving removed %q, want %q", res.Removed, want)
	}
	if got := proxies(); strings.TrimSpace(got) != "" {
		t.Errorf("NDP proxy left after the subnet's last VM went:\n%s", got)
	}

	// Back again, and a gateway whose address is the subnet-router anycast address: one
	// proxy entry for both, kept while either needs it.
	gw := exposure.Exposure{Prefix: netip.MustParsePrefix("2001:db8:5::/128"), Kind: exposure.KindGateway, Object: "Logical_Router_Port gw",
		Wiring: exposure.Wiring{Bridge: "br-ex", MAC: "fa:16:3e:00:00:09"}}
	twice(incDesired(a, gw))
	res = twice(incDesired(gw))
	if slices.ContainsFunc(res.Removed, func(s string) bool { return strings.HasPrefix(s, "neigh proxy") }) {
		t.Errorf("the gateway's proxy entry went with the VM: removed %q", res.Removed)
	}
	if got := proxies(); !strings.Contains(got, "2001:db8:5:: ") {
		t.Errorf("the gateway's NDP proxy was removed:\n%s", got)
	}

	// The gateway's MAC changes: the new permanent neighbour replaces the old one, which
	// is not deleted afterwards (by address, it would be the new one).
	gw.Wiring.MAC = "fa:16:3e:00:00:0a"
	res = twice(incDesired(gw))
	if want := []string{"neigh 2001:db8:5:: lladdr fa:16:3e:00:00:0a dev br-ex nud permanent"}; !cmp.Equal(res.Added, want) {
		t.Errorf("the gateway's MAC changing added %q, want %q", res.Added, want)
	}
	if got := ipIn(t, name, "-6", "neigh", "show", "dev", "br-ex", "nud", "permanent"); !strings.Contains(got, "fa:16:3e:00:00:0a") {
		t.Errorf("the gateway's neighbour with its new MAC is missing:\n%s", got)
	}
	if got := w.items.readsNow() - reads; got != 0 {
		t.Errorf("the event passes read the kernel back %d time(s)", got)
	}
	if w.incPasses == 0 {
		t.Error("no pass worked on the changed exposures only")
	}
	checkFullPassAgrees(t, ns, incDesired(gw), w.Installed())
}

// checkFullPassAgrees runs a full pass of a new Wirer (nothing mirrored: it reads every
// rule, route and neighbour back) for d, and fails if it has anything to change, or finds
// installed other than what the event passes said they installed.
func checkFullPassAgrees(t *testing.T, ns netns.NsHandle, d exposure.Desired, installed []string) {
	t.Helper()
	fresh := newWirerIn(t, ns)
	res, err := fresh.SyncWiring(context.Background(), d)
	if err != nil {
		t.Fatalf("full pass: %v", err)
	}
	if res.Changed() {
		t.Errorf("a full pass after the event passes changed: added %q, removed %q", res.Added, res.Removed)
	}
	if diff := cmp.Diff(fresh.Installed(), installed, cmpOpts); diff != "" {
		t.Errorf("installed after the event passes (-full pass +event passes):\n%s", diff)
	}
}

// TestWiringEventPassesEqualAFullPass runs random sequences of exposure changes (VMs coming
// and going, moving between bridges, IPv6 VMs sharing their subnet's NDP proxy, gateways
// changing MAC, tenant subnets changing next hop) through event passes only, and checks
// after each that a second pass changes nothing and, every few passes and at the end, that
// what is installed is what a full pass (reading everything back) installs.
func TestWiringEventPassesEqualAFullPass(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	addBridge(t, h, "br-ex2", true)
	w := newWirerIn(t, ns)
	bg := context.Background()
	bridges := []string{"br-ex", "br-ex2"}
	var pool []exposure.Exposure
	for i := range 12 {
		br := bridges[i%2]
		pool = append(pool,
			exposure.Exposure{Prefix: netip.MustParsePrefix(fmt.Sprintf("172.24.4.%d/32", 10+i)), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: br}},
			v6VM(fmt.Sprintf("2001:db8:%d::%x", i%3, 0x10+i), br, fmt.Sprintf("2001:db8:%d::", i%3)))
	}
	pool = append(pool,
		exposure.Exposure{Prefix: netip.MustParsePrefix("172.24.4.1/32"), Kind: exposure.KindGateway, Wiring: exposure.Wiring{Bridge: "br-ex", MAC: "fa:16:3e:00:00:01"}},
		exposure.Exposure{Prefix: netip.MustParsePrefix("2001:db8:0::1/128"), Kind: exposure.KindGateway, Wiring: exposure.Wiring{Bridge: "br-ex", MAC: "fa:16:3e:00:00:01"}},
		exposure.Exposure{Prefix: netip.MustParsePrefix("10.0.0.0/24"), Kind: exposure.KindTenantSubnet, Wiring: exposure.Wiring{Bridge: "br-ex", Via: netip.MustParseAddr("172.24.4.1")}},
		exposure.Exposure{Prefix: netip.MustParsePrefix("2001:db8:10::/64"), Kind: exposure.KindTenantSubnet, Wiring: exposure.Wiring{Bridge: "br-ex", Via: netip.MustParseAddr("2001:db8:0::1")}},
		exposure.Exposure{Prefix: netip.MustParsePrefix("192.0.2.7/32"), Kind: exposure.KindVM}, // no bridge here: not wired
	)
	r := rand.New(rand.NewPCG(7, 17))
	on := map[int]bool{}
	desired := func() exposure.Desired {
		var es []exposure.Exposure
		for i, e := range pool {
			if on[i] {
				es = append(es, e)
			}
		}
		return incDesired(es...)
	}
	if _, err := w.SyncWiring(bg, desired()); err != nil {
		t.Fatal(err)
	}
	reads := w.items.readsNow()
	for step := range 60 {
		for range 1 + r.IntN(3) {
			i := r.IntN(len(pool))
			switch r.IntN(5) {
			case 0: // moves to the other bridge
				if pool[i].Wiring.Bridge != "" {
					pool[i].Wiring.Bridge = bridges[r.IntN(2)]
				}
			case 1: // a gateway's MAC, a subnet's next hop
				switch {
				case pool[i].Wiring.MAC != "":
					pool[i].Wiring.MAC = fmt.Sprintf("fa:16:3e:00:00:%02x", r.IntN(4))
				case pool[i].Wiring.Via.Is4():
					pool[i].Wiring.Via = netip.MustParseAddr(fmt.Sprintf("172.24.4.%d", 1+r.IntN(3)))
				}
			default:
				on[i] = !on[i]
			}
		}
		d := desired()
		if step%2 == 1 {
			// The pass's Apply, which does not list what is installed: the next pass that
			// does must list it all the same.
			if _, err := w.Apply(bg, reconcile.Plan{Desired: d}); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		} else if _, err := w.SyncWiringChanges(bg, d); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if again, err := w.SyncWiringChanges(bg, d); err != nil || again.Changed() {
			t.Fatalf("step %d: the same event pass again changed %q, removed %q (%v)", step, again.Added, again.Removed, err)
		}
		if step%10 == 9 {
			checkFullPassAgrees(t, ns, d, w.Installed())
		}
	}
	if got := w.items.readsNow() - reads; got != 0 {
		t.Errorf("the event passes read the kernel back %d time(s)", got)
	}
	if w.incPasses < 100 {
		t.Errorf("only %d of 120 event passes worked on the changed exposures only", w.incPasses)
	}
}
