//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
	"golang.org/x/sys/unix"
)

// reads is how many read-backs m has done.
func (m *mirror[K, V]) readsNow() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

// TestIncrementalPassesKeptHonestByTheWatcher is issue #17's incremental pass: after a full
// pass, a pass driven by an event applies only the difference without reading the kernel
// back, the kernel's echoes of the appliers' own changes trigger nothing, and a change of
// someone else's to the agent's state (an address or a route deleted by hand) makes the next
// pass read back and repair it.
func TestIncrementalPassesKeptHonestByTheWatcher(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "bgp-nic", true)
	addBridge(t, h, "br-ex", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic", RouteProtocol: testWiringOpts.RouteProtocol})
	w := newWirerIn(t, ns)

	reasons := startWatch(t, ns, name, WatchOptions{Netns: ns, RouteProtocol: testWiringOpts.RouteProtocol,
		RulePriority: testWiringOpts.RulePriority, Mirrors: []Mirrored{a, w}})

	vm := func(ips ...string) ([]HostAddr, exposure.Desired) {
		d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex", Physnet: "physnet1"}}}
		var want []HostAddr
		d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: netip.MustParsePrefix("172.24.4.1/32"), Kind: exposure.KindGateway,
			Wiring: exposure.Wiring{Bridge: "br-ex", MAC: "fa:16:3e:00:00:01"}})
		for _, s := range ips {
			ip := netip.MustParseAddr(s)
			want = append(want, HostAddr{Addr: ip, Metric: 101})
			d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: exposure.HostPrefix(ip), Kind: exposure.KindVM,
				Wiring: exposure.Wiring{Bridge: "br-ex"}})
		}
		return want, d
	}
	bg := context.Background()
	pass := func(full bool, ips ...string) (Result, WiringResult) {
		t.Helper()
		want, d := vm(ips...)
		sync, wire := a.SyncChanges, w.SyncWiringChanges
		if full {
			sync, wire = a.Sync, w.SyncWiring
		}
		res, err := sync(bg, want)
		if err != nil {
			t.Fatalf("address pass: %v", err)
		}
		wres, err := wire(bg, d)
		if err != nil {
			t.Fatalf("wiring pass: %v", err)
		}
		return res, wres
	}
	pass(true, "172.24.4.10", "172.24.4.11", "2001:db8::10")
	addrReads, wireReads := a.addrs.readsNow(), w.items.readsNow()

	// An event's pass: one VM gone, one new, nothing read back.
	res, wres := pass(false, "172.24.4.10", "172.24.4.12", "2001:db8::10", "2001:db8::12")
	if got, want := fmt.Sprint(res.Added, res.Removed), "[172.24.4.12 2001:db8::12] [172.24.4.11]"; got != want {
		t.Errorf("incremental address pass added, removed = %s, want %s", got, want)
	}
	if got := a.addrs.readsNow() - addrReads; got != 0 {
		t.Errorf("the incremental address pass read the NIC back %d time(s)", got)
	}
	if got, err := a.Installed(bg); err != nil || !slices.Equal(got, res.Installed) {
		t.Errorf("the incremental address pass says %v are installed, the NIC holds %v (%v)", res.Installed, got, err)
	}
	if got := w.items.readsNow() - wireReads; got != 0 {
		t.Errorf("the incremental wiring pass read the kernel back %d time(s)", got)
	}
	if got, want := wres.Removed, []string{"route 172.24.4.11/32 dev br-ex table 3000", "rule to 172.24.4.11/32 lookup 3000"}; !slices.Equal(got, want) {
		t.Errorf("incremental wiring pass removed %q, want %q", got, want)
	}
	if got, want := slices.DeleteFunc(devAddrs(t, h, "bgp-nic"), func(s string) bool { return strings.HasPrefix(s, "fe80:") }), []string{"172.24.4.10/32", "172.24.4.12/32", "2001:db8::10/128", "2001:db8::12/128"}; !slices.Equal(got, want) {
		t.Errorf("bgp-nic holds %q, want %q", got, want)
	}
	// The new addresses' local-table entries were deleted by key, IPv6 after the kernel's delay.
	if got := localEntries(t, h, "bgp-nic", unix.RT_TABLE_LOCAL); len(got) != 0 {
		t.Errorf("exposed addresses are host-local after the incremental pass: %q", got)
	}
	rules := ipIn(t, name, "rule", "show", "priority", fmt.Sprint(testWiringOpts.RulePriority))
	if !strings.Contains(rules, "172.24.4.12") || strings.Contains(rules, "172.24.4.11") {
		t.Errorf("ip rules after the incremental pass:\n%s", rules)
	}

	// The kernel echoed all of that; none of it is anyone else's change. Events arrive in
	// order, so a trigger for an echo would come before the sentinel's.
	ipIn(t, name, "addr", "add", "198.51.100.1/32", "dev", "probe1")
	ipIn(t, name, "addr", "del", "198.51.100.1/32", "dev", "probe1")
	select {
	case r := <-reasons:
		if !strings.Contains(r, "198.51.100.1") {
			t.Errorf("the echo of the appliers' own changes triggered a pass: %s", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no trigger for the sentinel address deleted on br-ex")
	}

	// Someone deletes an exposed address and a wiring route: the watcher triggers, and the
	// next event pass reads back and repairs both.
	// The kernel flushes the IPv4 routes through br-ex, silently, when br-ex loses its last
	// IPv4 address: the address's deletion is what tells.
	ipIn(t, name, "addr", "add", "198.51.100.2/32", "dev", "br-ex")
	ipIn(t, name, "addr", "del", "198.51.100.2/32", "dev", "br-ex")
	// The kernel reports the flushed neighbour (the gateway's) on its own subscription: both
	// triggers are taken here, so that a later wait for the neighbour's deletion by hand is
	// not met by this one.
	waitTriggers(t, reasons, "address 198.51.100.2/32 deleted", "neighbour 172.24.4.1 deleted")
	_, wres = pass(false, "172.24.4.10", "172.24.4.12", "2001:db8::10", "2001:db8::12")
	// The kernel flushes the device's IPv4 neighbours with its routes.
	if got, want := wres.Added, []string{"neigh 172.24.4.1 lladdr fa:16:3e:00:00:01 dev br-ex nud permanent", "route 0.0.0.0/0 dev br-ex table 3000", "route 172.24.4.1/32 dev br-ex table 3000", "route 172.24.4.10/32 dev br-ex table 3000",
		"route 172.24.4.12/32 dev br-ex table 3000"}; !slices.Equal(got, want) {
		t.Errorf("the pass after br-ex lost its address re-wired %q, want %q", got, want)
	}
	addrReads, wireReads = a.addrs.readsNow(), w.items.readsNow()

	ipIn(t, name, "addr", "del", "172.24.4.12/32", "dev", "bgp-nic")
	ipIn(t, name, "route", "del", "172.24.4.10/32", "table", "3000")
	// Address and route events come through different subscriptions: in either order.
	waitTriggers(t, reasons, "172.24.4.12", "172.24.4.10/32 deleted from table 3000")
	res, wres = pass(false, "172.24.4.10", "172.24.4.12", "2001:db8::10", "2001:db8::12")
	if got := fmt.Sprint(res.Added); got != "[172.24.4.12]" {
		t.Errorf("the pass after the drift re-added %s, want [172.24.4.12]", got)
	}
	if got, want := wres.Added, []string{"route 172.24.4.10/32 dev br-ex table 3000"}; !slices.Equal(got, want) {
		t.Errorf("the pass after the drift re-wired %q, want %q", got, want)
	}
	if a.addrs.readsNow() == addrReads || w.items.readsNow() == wireReads {
		t.Error("the pass after the drift did not read the kernel back")
	}

	// A gateway's neighbour deleted by hand: the kernel reports it without its MAC.
	ipIn(t, name, "neigh", "del", "172.24.4.1", "dev", "br-ex")
	waitTrigger(t, reasons, "neighbour 172.24.4.1 deleted")
	_, wres = pass(false, "172.24.4.10", "172.24.4.12", "2001:db8::10", "2001:db8::12")
	if got, want := wres.Added, []string{"neigh 172.24.4.1 lladdr fa:16:3e:00:00:01 dev br-ex nud permanent"}; !slices.Equal(got, want) {
		t.Errorf("the pass after the neighbour's deletion re-wired %q, want %q", got, want)
	}

	// A rule deleted by hand: the kernel reports rules too.
	ipIn(t, name, "rule", "del", "pref", fmt.Sprint(testWiringOpts.RulePriority), "to", "172.24.4.12/32")
	waitTrigger(t, reasons, "rule to 172.24.4.12/32 lookup 3000 deleted")
	_, wres = pass(false, "172.24.4.10", "172.24.4.12", "2001:db8::10", "2001:db8::12")
	if got, want := wres.Added, []string{"rule to 172.24.4.12/32 lookup 3000"}; !slices.Equal(got, want) {
		t.Errorf("the pass after the rule's deletion re-wired %q, want %q", got, want)
	}
}

// TestForeignDeviceKeepsTheMirrors: on a compute node every VM that boots or goes brings a
// tap device; such a device, created, set up and deleted, triggers a pass but drops no
// mirror, so that pass reads nothing back. A provider bridge set down and up again still
// makes it read the wiring back (the kernel flushed the routes through it, and says so).
func TestForeignDeviceKeepsTheMirrors(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "bgp-nic", true)
	addBridge(t, h, "br-ex", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic", RouteProtocol: testWiringOpts.RouteProtocol})
	w := newWirerIn(t, ns)
	reasons := startWatch(t, ns, name, WatchOptions{Netns: ns, RouteProtocol: testWiringOpts.RouteProtocol,
		RulePriority: testWiringOpts.RulePriority, Mirrors: []Mirrored{a, w}})
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex", Physnet: "physnet1"}},
		Exposures: []*exposure.Exposure{{Prefix: netip.MustParsePrefix("172.24.4.10/32"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: "br-ex"}}}}
	bg := context.Background()
	pass := func(full bool) {
		t.Helper()
		if _, err := a.Apply(bg, reconcile.Plan{Desired: d, Full: full}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Apply(bg, reconcile.Plan{Desired: d, Full: full}); err != nil {
			t.Fatal(err)
		}
	}
	pass(true)
	pass(false)
	addrReads, wireReads := a.addrs.readsNow(), w.items.readsNow()

	ipIn(t, name, "link", "add", "tap0", "type", "bridge")
	ipIn(t, name, "link", "set", "tap0", "up")
	ipIn(t, name, "link", "del", "tap0")
	waitTrigger(t, reasons, "device tap0")
	pass(false)
	if a.addrs.readsNow() != addrReads || w.items.readsNow() != wireReads {
		t.Errorf("a tap device coming and going made the next pass read back (addresses %d, wiring %d times)",
			a.addrs.readsNow()-addrReads, w.items.readsNow()-wireReads)
	}

	ipIn(t, name, "link", "set", "br-ex", "down")
	ipIn(t, name, "link", "set", "br-ex", "up")
	waitTrigger(t, reasons, "device br-ex")
	pass(false)
	if w.items.readsNow() == wireReads {
		t.Error("the provider bridge set down and up did not make the next pass read the wiring back")
	}
	if rules := ipIn(t, name, "route", "show", "table", "3000"); !strings.Contains(rules, "172.24.4.10") {
		t.Errorf("the routes through br-ex were not restored:\n%s", rules)
	}
}

// TestVMTapsCostAnEventPassNothing: on a compute node every VM that boots brings a device
// (its tap) with an IPv6 link-local address. Neither is anything of the agent's, nor a node
// fact the exposure guard needs (it refuses fe80::/10 as a whole), so the pass that follows
// neither dumps the node's addresses again nor lists the devices for the wiring: with a
// thousand VMs the netlink library took 9 ms and 8 MB for one listing. A real address on
// such a device, and a provider bridge going down and up, still make the next pass read.
func TestVMTapsCostAnEventPassNothing(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	for _, k := range []string{"all", "default"} {
		// Link-local addresses at once, without duplicate address detection's second.
		if out, err := exec.Command("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf."+k+".accept_dad=0").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	addBridge(t, h, "bgp-nic", true)
	addBridge(t, h, "br-ex", true)
	ipIn(t, name, "addr", "add", "192.0.2.10/24", "dev", "br-ex")
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic", RouteProtocol: testWiringOpts.RouteProtocol})
	w := newWirerIn(t, ns)
	reasons := startWatch(t, ns, name, WatchOptions{Netns: ns, RouteProtocol: testWiringOpts.RouteProtocol,
		RulePriority: testWiringOpts.RulePriority, Mirrors: []Mirrored{a, w}})
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex", Physnet: "physnet1"}},
		Exposures: []*exposure.Exposure{{Prefix: netip.MustParsePrefix("172.24.4.10/32"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: "br-ex"}}}}
	bg := context.Background()
	bridges := []string{"br-ex"}
	pass := func(full bool) []netip.Prefix {
		t.Helper()
		node, err := a.KnownNodeAddresses(bg, bridges)
		if full {
			node, err = a.NodeAddresses(bg, bridges)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Apply(bg, reconcile.Plan{Desired: d, Full: full}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Apply(bg, reconcile.Plan{Desired: d, Full: full}); err != nil {
			t.Fatal(err)
		}
		return node
	}
	counts := func() (dumps, addrEvents, listings int) {
		a.node.mu.Lock()
		defer a.node.mu.Unlock()
		w.mu.Lock()
		defer w.mu.Unlock()
		return a.node.dumps, a.node.events, w.linkListings
	}
	pass(true)
	pass(false)
	dumps, events, listings := counts()
	countLinkLocals := func() int {
		return strings.Count(ipIn(t, name, "-6", "addr", "show", "scope", "link"), "inet6 fe80::")
	}
	bridgeLinkLocals := countLinkLocals()

	// Five VMs boot: a veth pair each (a tap has no carrier without its VM, so no link-local).
	const vms = 5
	for i := range vms {
		ipIn(t, name, "link", "add", fmt.Sprintf("tap%d", i), "type", "veth", "peer", "name", fmt.Sprintf("vm%d", i))
		ipIn(t, name, "link", "set", fmt.Sprintf("tap%d", i), "up")
		ipIn(t, name, "link", "set", fmt.Sprintf("vm%d", i), "up")
	}
	linkLocals := 0
	waitFor(t, "every VM device's link-local address, seen by the watcher", func() bool {
		linkLocals = countLinkLocals() - bridgeLinkLocals
		_, ev, _ := counts()
		return linkLocals >= 2*vms && ev-events >= linkLocals
	})
	waitTrigger(t, reasons, fmt.Sprintf("device vm%d", vms-1))
	node := pass(false)
	if d, _, l := counts(); d != dumps || l != listings {
		t.Errorf("%d VM devices with %d link-local addresses made the next pass dump the node's addresses %d times and list the devices %d times; want 0 and 0",
			2*vms, linkLocals, d-dumps, l-listings)
	}
	for _, p := range node {
		if p.Addr().IsLinkLocalUnicast() {
			t.Errorf("node addresses include the link-local %s", p)
		}
	}

	// A real address on one of them is a node fact.
	ipIn(t, name, "addr", "add", "198.51.100.7/24", "dev", "tap0")
	waitFor(t, "an event's pass to see 198.51.100.7/24 among the node's addresses", func() bool {
		return slices.Contains(pass(false), netip.MustParsePrefix("198.51.100.7/24"))
	})
	// The provider bridge down and up: the wiring lists the devices again.
	_, _, listings = counts()
	ipIn(t, name, "link", "set", "br-ex", "down")
	ipIn(t, name, "link", "set", "br-ex", "up")
	waitTrigger(t, reasons, "device br-ex")
	pass(false)
	if _, _, l := counts(); l == listings {
		t.Error("the provider bridge set down and up did not make the wiring list the devices again")
	}
}
