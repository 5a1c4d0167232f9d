//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// readBack is what a read-back gave: each item with the netlink object it is deleted by
// (nil: built from the item).
type readBack map[string]any

func (r readBack) keep(it item, raw any) {
	key := fmt.Sprintf("%d %s", it.kind, it)
	if rt, ok := raw.(netlink.Route); ok {
		// The fields a route is deleted by (RouteDel sends them), as `ip` would print them.
		raw = fmt.Sprintf("family %d dst %s gw %s table %d oif %d metric %d proto %d scope %d type %d tos %d flags %#x",
			rt.Family, rt.Dst, net.IP(rt.Gw), rt.Table, rt.LinkIndex, rt.Priority, rt.Protocol, rt.Scope, rt.Type, rt.Tos, rt.Flags)
	}
	if ru, ok := raw.(netlink.Rule); ok {
		raw = fmt.Sprintf("%s family %d mark %d iif %q oif %q invert %v goto %d", ru, ru.Family, ru.Mark, ru.IifName, ru.OifName, ru.Invert, ru.Goto)
	}
	r[key] = raw
}

func (r readBack) keys() []string {
	var out []string
	for k := range r {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestLeanReadBackMatchesTheNetlinkLibrary: the wiring's read-back of rules and routes from
// the lean dumps (dump_netlink.go) finds the same items, deleted by the same fields, as the
// netlink library's objects did, for every shape the kernel holds: the agent's own (host and
// subnet routes, default routes, next hops on link, IPv6 through a link-local router, a
// metric), routes of its protocol through a device that is no provider bridge or with no
// device (a blackhole), and rules and routes that are not its (another priority, protocol
// or table). Shapes the lean parsers do not describe (several next hops, a source address,
// a rule with a mark or a source) make them hand the read to the library, whose result is
// then the read-back; a comparison with the mirror takes them for a difference.
func TestLeanReadBackMatchesTheNetlinkLibrary(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	for _, br := range []string{"br-ex", "br-b", "eth0"} {
		addBridge(t, h, br, true)
	}
	ipIn(t, name, "addr", "add", "172.24.4.1/24", "dev", "br-ex")
	w := newWirerIn(t, ns)
	n := w.b.(*netlinkWiring)
	links, err := n.links()
	if err != nil {
		t.Fatal(err)
	}
	devs := map[int]string{links["br-ex"].index: "br-ex", links["br-b"].index: "br-b"}
	opts := testWiringOpts
	for _, cmd := range [][]string{
		{"rule", "add", "to", "172.24.4.10/32", "lookup", "3000", "pref", "2000"},
		{"-6", "rule", "add", "to", "2001:db8::10/128", "lookup", "3001", "pref", "2000"},
		{"rule", "add", "to", "10.1.0.0/16", "lookup", "3000", "pref", "2000"},
		{"rule", "add", "to", "172.24.4.99", "lookup", "100", "pref", "1999"},
		{"route", "add", "172.24.4.10/32", "dev", "br-ex", "table", "3000", "proto", "149"},
		{"route", "add", "0.0.0.0/0", "dev", "br-ex", "table", "3000", "proto", "149"},
		{"-6", "route", "add", "::/0", "dev", "br-ex", "table", "3000", "proto", "149"},
		{"-6", "route", "add", "2001:db8::10/128", "dev", "br-b", "table", "3001", "proto", "149", "metric", "7"},
		{"route", "add", "10.1.0.0/16", "via", "172.24.9.1", "dev", "br-ex", "onlink", "table", "3000", "proto", "149"},
		{"route", "add", "10.2.0.0/16", "via", "172.24.4.2", "dev", "br-ex", "table", "3000", "proto", "149"},
		{"-6", "route", "add", "2001:db8:1::/64", "via", "fe80::1", "dev", "br-ex", "table", "3000", "proto", "149"},
		{"route", "add", "172.24.4.11/32", "dev", "eth0", "table", "3000", "proto", "149"},
		{"route", "add", "blackhole", "172.24.4.12/32", "table", "3001", "proto", "149"},
		{"route", "add", "172.24.4.13/32", "dev", "br-ex", "table", "3000", "proto", "149", "metric", "5"},
		{"route", "add", "172.24.4.14/32", "dev", "br-ex", "table", "3000", "proto", "7"},
		{"route", "add", "172.24.4.15/32", "dev", "br-ex", "table", "100", "proto", "149"},
	} {
		ipIn(t, name, cmd...)
	}
	read := func(check bool) readBack {
		t.Helper()
		got := readBack{}
		if err := n.readRules(opts, check, got.keep); err != nil {
			t.Fatal(err)
		}
		if err := n.readRoutes(opts, devs, check, got.keep); err != nil {
			t.Fatal(err)
		}
		return got
	}
	library := func() readBack {
		t.Helper()
		got := readBack{}
		if err := n.libraryRules(opts, got.keep); err != nil {
			t.Fatal(err)
		}
		if err := n.libraryRoutes(opts, devs, got.keep); err != nil {
			t.Fatal(err)
		}
		return got
	}

	lean, lib := read(false), library()
	if diff := cmp.Diff(lib.keys(), lean.keys()); diff != "" {
		t.Errorf("lean read-back items differ from the netlink library's (-library +lean):\n%s", diff)
	}
	if len(lean) != 13 {
		t.Errorf("read back %d items, want 13 (3 rules, 10 routes):\n%q", len(lean), lean.keys())
	}
	for k, raw := range lean {
		switch {
		case raw == nil:
			// A plain rule: deleted by the item, which must say all the kernel's rule does.
			if !strings.Contains(fmt.Sprint(lib[k]), ` mark 0 iif "" oif "" invert false goto -1`) {
				t.Errorf("%s: deleted by its item, but the kernel's rule has more: %v", k, lib[k])
			}
		case raw != lib[k]:
			t.Errorf("%s: deleted by\n  %v\nthe library's object by\n  %v", k, raw, lib[k])
		}
	}
	// The comparison with the mirror finds the same items.
	if check := read(true); !slices.Equal(check.keys(), lean.keys()) {
		t.Errorf("the comparison read-back differs:\n%q\nwant\n%q", check.keys(), lean.keys())
	}

	// owned: the same set again is the mirror itself; a rule deleted by hand is not.
	set, same, err := n.owned(opts, devs, nil, nil)
	if err != nil || same {
		t.Fatalf("owned without a mirror: same=%v, %v", same, err)
	}
	again, same, err := n.owned(opts, devs, nil, set)
	if err != nil || !same || fmt.Sprintf("%p", again) != fmt.Sprintf("%p", set) {
		t.Errorf("owned on an unchanged kernel: same=%v, %v; want the mirror itself", same, err)
	}
	ipIn(t, name, "rule", "del", "to", "172.24.4.10/32", "lookup", "3000", "pref", "2000")
	after, same, err := n.owned(opts, devs, nil, set)
	if err != nil || same || len(after) != len(set)-1 {
		t.Errorf("owned after a rule was deleted by hand: same=%v, %d items (mirror %d), %v", same, len(after), len(set), err)
	}
	ipIn(t, name, "rule", "add", "to", "172.24.4.10/32", "lookup", "3000", "pref", "2000")

	// Shapes the lean parsers leave to the library, one at a time.
	for _, odd := range []struct {
		add, del []string
		kind     itemKind
	}{
		{[]string{"route", "add", "172.24.4.20/32", "table", "3000", "proto", "149", "nexthop", "dev", "br-ex", "nexthop", "dev", "br-b"},
			[]string{"route", "del", "172.24.4.20/32", "table", "3000"}, kindRoute},
		{[]string{"route", "add", "172.24.4.21/32", "dev", "br-ex", "src", "172.24.4.1", "table", "3000", "proto", "149"},
			[]string{"route", "del", "172.24.4.21/32", "table", "3000"}, kindRoute},
		{[]string{"rule", "add", "to", "172.24.4.22/32", "fwmark", "0x10", "lookup", "3000", "pref", "2000"},
			[]string{"rule", "del", "to", "172.24.4.22/32", "fwmark", "0x10", "lookup", "3000", "pref", "2000"}, kindRule},
		{[]string{"rule", "add", "from", "10.9.0.0/16", "to", "172.24.4.23", "lookup", "3000", "pref", "2000"},
			[]string{"rule", "del", "from", "10.9.0.0/16", "to", "172.24.4.23", "lookup", "3000", "pref", "2000"}, kindRule},
		{[]string{"rule", "add", "not", "to", "172.24.4.24", "lookup", "3000", "pref", "2000"},
			[]string{"rule", "del", "not", "to", "172.24.4.24", "lookup", "3000", "pref", "2000"}, kindRule},
		{[]string{"rule", "add", "to", "172.24.4.25", "iif", "br-b", "lookup", "3000", "pref", "2000"},
			[]string{"rule", "del", "to", "172.24.4.25", "iif", "br-b", "lookup", "3000", "pref", "2000"}, kindRule},
	} {
		ipIn(t, name, odd.add...)
		lean, lib = read(false), library()
		if diff := cmp.Diff(lib.keys(), lean.keys()); diff != "" {
			t.Errorf("ip %v: the read-back differs from the library's (-library +lean):\n%s", odd.add, diff)
		}
		for k, raw := range lean {
			if strings.HasPrefix(k, fmt.Sprint(odd.kind)+" ") && raw != lib[k] {
				t.Errorf("ip %v: %s is deleted by %v, not by the library's %v", odd.add, k, raw, lib[k])
			}
		}
		if len(lean) != 14 {
			t.Errorf("ip %v: read back %d items, want 14:\n%q", odd.add, len(lean), lean.keys())
		}
		what := "route"
		if odd.kind == kindRule {
			what = "rule"
		}
		k := fmt.Sprintf("%d a %s the lean parser leaves to the netlink library", odd.kind, what)
		if _, ok := read(true)[k]; !ok {
			t.Errorf("ip %v: the comparison read-back does not report %q", odd.add, k)
		}
		ipIn(t, name, odd.del...)
	}
}

// TestFullPassRepairsDriftNoEventReported: with no watcher to report it, drift of every
// kind (the agent's rule, route, neighbour and address deleted, a stale route and address of
// the agent's kind added, a metric changed, an exposed address made host-local again) is
// found and repaired by the next full pass, which reads the kernel back; an idle full pass
// before and after it changes nothing and keeps the mirrors it verified.
func TestFullPassRepairsDriftNoEventReported(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "bgp-nic", true)
	addBridge(t, h, "br-ex", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic", RouteProtocol: testWiringOpts.RouteProtocol})
	w := newWirerIn(t, ns)
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex", Physnet: "physnet1"}}, Exposures: []*exposure.Exposure{
		{Prefix: netip.MustParsePrefix("172.24.4.1/32"), Kind: exposure.KindGateway, Wiring: exposure.Wiring{Bridge: "br-ex", MAC: "fa:16:3e:00:00:01"}}}}
	var want []HostAddr
	for _, s := range []string{"172.24.4.10", "172.24.4.11", "2001:db8::10"} {
		ip := netip.MustParseAddr(s)
		want = append(want, HostAddr{Addr: ip, Metric: 101})
		d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: exposure.HostPrefix(ip), Kind: exposure.KindVM,
			Wiring: exposure.Wiring{Bridge: "br-ex"}})
	}
	bg := context.Background()
	full := func() (Result, WiringResult) {
		t.Helper()
		res, err := a.Sync(bg, want)
		if err != nil {
			t.Fatalf("address pass: %v", err)
		}
		wres, err := w.SyncWiring(bg, d)
		if err != nil {
			t.Fatalf("wiring pass: %v", err)
		}
		return res, wres
	}
	full()
	idle := func(when string) {
		t.Helper()
		addrSet, wireSet := a.addrs.last(), w.items.last()
		res, wres := full()
		if res.Changed() || wres.Changed() {
			t.Errorf("%s: an idle full pass changed %+v %+v", when, res, wres)
		}
		if fmt.Sprintf("%p %p", addrSet, wireSet) != fmt.Sprintf("%p %p", a.addrs.last(), w.items.last()) {
			t.Errorf("%s: an idle full pass replaced the mirrors it found true", when)
		}
	}
	idle("before the drift")

	for _, cmd := range [][]string{
		{"rule", "del", "pref", "2000", "to", "172.24.4.10/32"},
		{"route", "del", "172.24.4.11/32", "table", "3000"},
		{"route", "add", "172.24.4.99/32", "dev", "br-ex", "table", "3000", "proto", "149"},
		{"neigh", "del", "172.24.4.1", "dev", "br-ex"},
		{"addr", "del", "172.24.4.11/32", "dev", "bgp-nic"},
		{"addr", "add", "172.24.4.98/32", "dev", "bgp-nic"},
		{"addr", "change", "172.24.4.10/32", "dev", "bgp-nic", "metric", "7"},
		{"route", "add", "local", "2001:db8::10", "dev", "bgp-nic", "table", "local"},
	} {
		ipIn(t, name, cmd...)
	}
	res, wres := full()
	if got, want := fmt.Sprint(res.Added, res.Removed, res.Remetered, res.LocalRoutesDeleted), "[172.24.4.11] [172.24.4.98] [172.24.4.10] [172.24.4.11 2001:db8::10]"; got != want {
		t.Errorf("the full pass after the drift: addresses added, removed, re-metered, unlocalised %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(wres.Added, wres.Removed), "[neigh 172.24.4.1 lladdr fa:16:3e:00:00:01 dev br-ex nud permanent route 172.24.4.11/32 dev br-ex table 3000 rule to 172.24.4.10/32 lookup 3000] [route 172.24.4.99/32 dev br-ex table 3000]"; got != want {
		t.Errorf("the full pass after the drift: wiring added, removed\n%s\nwant\n%s", got, want)
	}
	idle("after the repair")
}
