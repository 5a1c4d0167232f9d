//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// A cold pass sends its address adds and the deletions of their local-table entries in
// batches of requests, not one request (and one round trip) each, and still ends with every
// address on the NIC and none of them host-local.
func TestColdPassSendsAddressesInBatches(t *testing.T) {
	t.Parallel()
	ns, _, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	const n = 1000
	var want []HostAddr
	for i := range n {
		want = append(want, HostAddr{Addr: netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), Metric: 101})
	}
	v6 := netip.MustParseAddr("2001:db8::7")
	want = append(want, HostAddr{Addr: v6, Metric: 101})
	res, err := a.Sync(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != n+1 || len(res.LocalRoutesDeleted) != n+1 {
		t.Fatalf("added %d, local entries deleted %d; want %d each", len(res.Added), len(res.LocalRoutesDeleted), n+1)
	}
	// Adds and local-entry deletions, at least 32 a round trip.
	if most := 2*(n+1)/32 + 2; a.batches < 1 || a.batches > most {
		t.Errorf("%d round trips for %d adds and as many local-entry deletions, want 1..%d", a.batches, n+1, most)
	}
	if got := len(devAddrs(t, h, "bgp-nic")); got < n+1 {
		t.Errorf("%d addresses on bgp-nic, want at least %d", got, n+1)
	}
	for _, e := range localEntries(t, h, "bgp-nic", unix.RT_TABLE_LOCAL) {
		if strings.HasPrefix(e, "100.64.") || e == "2001:db8::7/128" {
			t.Errorf("exposed address still host-local: %s", e)
		}
	}
	if res, err := a.Sync(context.Background(), want); err != nil || res.Changed() {
		t.Errorf("second pass: %v, changed %v", err, res.Changed())
	}
}

// A batch reports each request's own result: an add that fails (someone put the address
// there since the applier last looked) is reported by name, the adds around it in the same
// batch still happen, and the failed add's local-table entry, which is not the applier's to
// take, is not deleted with the others'.
func TestBatchKeepsEachRequestsResult(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	ctx := context.Background()
	if _, err := a.Sync(ctx, nil); err != nil { // the mirror: nothing there
		t.Fatal(err)
	}
	ipIn(t, name, "addr", "add", "100.64.0.20/32", "dev", "bgp-nic")
	var want []HostAddr
	for i := 10; i < 30; i++ {
		want = append(want, HostAddr{Addr: netip.AddrFrom4([4]byte{100, 64, 0, byte(i)}), Metric: 101})
	}
	res, err := a.SyncChanges(ctx, want)
	if err == nil || !strings.Contains(err.Error(), "add 100.64.0.20/32 to bgp-nic: file exists") {
		t.Fatalf("error %v, want one naming 100.64.0.20", err)
	}
	if len(res.Added) != 19 || slices.Contains(res.Added, netip.MustParseAddr("100.64.0.20")) {
		t.Errorf("added %v, want the 19 others", res.Added)
	}
	local := localEntries(t, h, "bgp-nic", unix.RT_TABLE_LOCAL)
	if !slices.Contains(local, "100.64.0.20/32") {
		t.Errorf("the local-table entry of 100.64.0.20, whose add failed, was deleted: %v", local)
	}
	for _, ip := range res.Added {
		if slices.Contains(local, ip.String()+"/32") {
			t.Errorf("%s still host-local", ip)
		}
	}
}

// The wiring's cold pass sends its rules and routes in batches, the neighbours between them
// in order, and installs what adding them one at a time installs (the second pass finds
// nothing to do; TestWiringInstallsAndCleans reads the same shapes back with iproute2).
func TestWiringColdPassSendsBatches(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up") // IPv4 onlink next hops are checked against its local table
	addBridge(t, h, "br-ex", true)
	w := newWirerIn(t, ns)
	const n = 500
	// Every kind of wiring (gateways with neighbours, subnets via a gateway, IPv6) among n
	// VMs.
	d := wiredDesired()
	want := slices.Clone(wiredItems)
	for i := range n {
		ip := netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})
		d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: exposure.HostPrefix(ip), Kind: exposure.KindVM,
			Wiring: exposure.Wiring{Bridge: "br-ex"}})
		want = append(want, fmt.Sprintf("route %s/32 dev br-ex table 3000", ip), fmt.Sprintf("rule to %s/32 lookup 3000", ip))
	}
	slices.Sort(want)
	ctx := context.Background()
	if _, err := w.SyncWiring(ctx, d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, w.Installed()); diff != "" {
		t.Errorf("installed (-want +got):\n%s", diff)
	}
	b := w.b.(*netlinkWiring)
	if most := len(want)/32 + 4; b.batches < 1 || b.batches > most { // at least 32 a round trip
		t.Errorf("%d round trips for %d rules and routes, want 1..%d", b.batches, len(want), most)
	}
	rules, err := h.RuleListFiltered(netlink.FAMILY_V4, &netlink.Rule{Priority: int(testWiringOpts.RulePriority)}, netlink.RT_FILTER_PRIORITY)
	if err != nil || len(rules) != n+3 {
		t.Errorf("%d IPv4 rules at the agent's priority (%v), want %d", len(rules), err, n+3)
	}
	// The pass read the rules back: they went without the kernel's duplicate check.
	if b.unchecked != n+6 {
		t.Errorf("%d rules added without the duplicate check, want all %d", b.unchecked, n+6)
	}
	if res, err := w.SyncWiring(ctx, d); err != nil || res.Changed() {
		t.Errorf("second pass: %v, changed %v", err, res)
	}
}

// An event's pass works from the mirror, which does not know of a rule someone added by
// hand: its add keeps the kernel's duplicate check, so that rule is refused, not duplicated.
func TestEventPassDoesNotDuplicateAHandMadeRule(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	w := newWirerIn(t, ns)
	vm := func(ips ...string) exposure.Desired {
		d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}}}
		for _, ip := range ips {
			d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: netip.MustParsePrefix(ip + "/32"), Kind: exposure.KindVM,
				Wiring: exposure.Wiring{Bridge: "br-ex"}})
		}
		return d
	}
	ctx := context.Background()
	if _, err := w.SyncWiring(ctx, vm("100.64.0.1")); err != nil {
		t.Fatal(err)
	}
	ipIn(t, name, "rule", "add", "to", "100.64.0.2/32", "lookup", "3000", "priority", fmt.Sprint(testWiringOpts.RulePriority))
	_, err := w.SyncWiringChanges(ctx, vm("100.64.0.1", "100.64.0.2"))
	if err == nil || !strings.Contains(err.Error(), "add rule to 100.64.0.2/32 lookup 3000: file exists") {
		t.Errorf("event pass: %v, want the rule's add refused", err)
	}
	if got := strings.Count(ipIn(t, name, "rule", "show", "priority", fmt.Sprint(testWiringOpts.RulePriority)), "to 100.64.0.2 lookup 3000"); got != 1 {
		t.Errorf("%d rules to 100.64.0.2, want the one added by hand", got)
	}
	if _, err := w.SyncWiring(ctx, vm("100.64.0.1", "100.64.0.2")); err != nil {
		t.Errorf("the full pass after it: %v", err)
	}
}
