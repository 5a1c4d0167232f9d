//go:build privileged

package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The kernel side of per-kind communities: each exposed address carries its kind's metric
// (IFA_RT_PRIORITY), read back here with iproute2 rather than with the code under test.

// ipAddrMetrics runs `ip -j addr show dev DEV` in namespace name and returns "ip/len metric N"
// for every address that is not IPv6 link-local, sorted.
func ipAddrMetrics(t *testing.T, name, dev string) []string {
	t.Helper()
	out, err := exec.Command("ip", "-n", name, "-j", "addr", "show", "dev", dev).Output()
	if err != nil {
		t.Fatalf("ip -n %s addr show dev %s: %v", name, dev, err)
	}
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Metric    uint32 `json:"metric"`
			Scope     string `json:"scope"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("parse ip -j addr: %v: %s", err, out)
	}
	var got []string
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Scope == "link" {
				continue
			}
			got = append(got, fmt.Sprintf("%s/%d metric %d", a.Local, a.PrefixLen, a.Metric))
		}
	}
	slices.Sort(got)
	return got
}

// ip runs an ip(8) command in namespace name.
func ip(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", name, args, err, out)
	}
}

// addrEvents records the address notifications of namespace ns until t ends.
type addrEvents struct {
	ch chan netlink.AddrUpdate
}

func subscribeAddrs(t *testing.T, ns netns.NsHandle) *addrEvents {
	t.Helper()
	ch := make(chan netlink.AddrUpdate, 4096)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		Namespace: &ns,
		ErrorCallback: func(err error) {
			select {
			case <-done: // the socket is closed when the test ends
			default:
				t.Errorf("address subscription: %v", err)
			}
		},
	})
	if err != nil {
		t.Fatalf("subscribe to address events: %v", err)
	}
	return &addrEvents{ch: ch}
}

// until reads events until every address in news has had an RTM_NEWADDR, and returns the
// addresses that had an RTM_DELADDR meanwhile. Notifications arrive in order, so a deletion
// made before the last new-address event has been read by then.
func (e *addrEvents) until(t *testing.T, news []netip.Addr) []string {
	t.Helper()
	pending := map[netip.Addr]bool{}
	for _, ip := range news {
		pending[ip] = true
	}
	var deleted []string
	waitFor(t, fmt.Sprintf("RTM_NEWADDR for %v", news), func() bool {
		for {
			select {
			case u, ok := <-e.ch:
				if !ok {
					t.Fatal("address subscription closed")
				}
				ip, _ := netip.AddrFromSlice(u.LinkAddress.IP)
				ip = ip.Unmap()
				if u.NewAddr {
					delete(pending, ip)
				} else {
					deleted = append(deleted, u.LinkAddress.String())
				}
			default:
				return len(pending) == 0
			}
		}
	})
	return deleted
}

func TestSyncPutsEachKindsMetric(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	in := []HostAddr{
		{netip.MustParseAddr("172.24.4.10"), 101},
		{netip.MustParseAddr("172.24.4.11"), 102},
		{netip.MustParseAddr("172.24.4.12"), 0},
		{netip.MustParseAddr("2001:db8::10"), 103},
		{netip.MustParseAddr("2001:db8::11"), 108},
	}
	ips := make([]netip.Addr, 0, len(in))
	for _, h := range in {
		ips = append(ips, h.Addr)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	syncTwice(t, a, in, Result{Added: ips, LocalRoutesDeleted: ips, Installed: in})
	want := []string{
		"172.24.4.10/32 metric 101", "172.24.4.11/32 metric 102", "172.24.4.12/32 metric 0",
		"2001:db8::10/128 metric 103", "2001:db8::11/128 metric 108",
	}
	if d := cmp.Diff(want, ipAddrMetrics(t, name, "bgp-nic")); d != "" {
		t.Errorf("addresses on bgp-nic (-want +got):\n%s", d)
	}
	assertNotLocal(t, h, ips)

	// Two kinds for one address: reported, and the lower metric is kept, pass after pass.
	dup := append(slices.Clone(in), HostAddr{netip.MustParseAddr("172.24.4.11"), 105})
	for range 2 {
		res, err := a.Sync(context.Background(), dup)
		if err == nil || res.Changed() {
			t.Errorf("an address wanted with two metrics: want an error and no change, got %+v, %v", res, err)
		}
	}
}

// A kind change (or a metric someone else set) is corrected in place: no RTM_DELADDR, so FRR
// never withdraws the prefix; the address stays out of the local table; foreign addresses
// keep their metrics.
func TestSyncChangesMetricInPlace(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", true)
	addBridge(t, h, "other", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	vm4, vm6, kept := netip.MustParseAddr("172.24.4.10"), netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("172.24.4.20")
	in := []HostAddr{{vm4, 101}, {kept, 103}, {vm6, 101}}
	slices.SortFunc(in, func(a, b HostAddr) int { return a.Addr.Compare(b.Addr) })
	all := []netip.Addr{vm4, kept, vm6}
	syncTwice(t, a, in, Result{Added: all, LocalRoutesDeleted: all, Installed: in})

	// Foreign state with metrics of its own, and an address of ours whose metric an
	// operator changed by hand.
	ip(t, name, "addr", "add", "192.168.5.1/24", "dev", "bgp-nic", "metric", "7")
	ip(t, name, "addr", "add", "10.0.0.9/32", "dev", "other", "metric", "101")
	ip(t, name, "addr", "change", kept.String()+"/32", "dev", "bgp-nic", "metric", "999")
	foreignOther := ipAddrMetrics(t, name, "other")

	events := subscribeAddrs(t, ns)
	// The VM IPs become floating IPs of another row (kind fip, 102).
	moved := []HostAddr{{vm4, 102}, {kept, 103}, {vm6, 102}}
	res, err := a.Sync(context.Background(), moved)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	wantRes := Result{Remetered: all, Installed: []HostAddr{{vm4, 102}, {kept, 103}, {vm6, 102}}}
	if d := cmp.Diff(wantRes, res, cmpOpts); d != "" {
		t.Errorf("metric change (-want +got):\n%s", d)
	}
	if deleted := events.until(t, all); len(deleted) > 0 {
		t.Errorf("a metric change deleted addresses (a withdraw at the ToR): %v", deleted)
	}
	want := []string{
		"172.24.4.10/32 metric 102", "172.24.4.20/32 metric 103", "192.168.5.1/24 metric 7",
		"2001:db8::10/128 metric 102",
	}
	if d := cmp.Diff(want, ipAddrMetrics(t, name, "bgp-nic")); d != "" {
		t.Errorf("addresses on bgp-nic (-want +got):\n%s", d)
	}
	if d := cmp.Diff(foreignOther, ipAddrMetrics(t, name, "other")); d != "" {
		t.Errorf("addresses on another device changed (-before +after):\n%s", d)
	}
	assertNotLocal(t, h, all)
	if got := localEntries(t, h, "bgp-nic", unix.RT_TABLE_LOCAL); !slices.Contains(got, "192.168.5.1/32") {
		t.Errorf("local entries on bgp-nic = %v, want the operator's 192.168.5.1/32 kept", got)
	}
	again, err := a.Sync(context.Background(), moved)
	if err != nil || again.Changed() {
		t.Errorf("second pass must change nothing: %+v, %v", again, err)
	}
}

// Subnet routes carry the tenant-subnet metric; a metric change adds the new route before
// the old one goes, and leaves one route.
func TestSyncRoutesMetric(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", true)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	p4, p6 := netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("2001:db8:10::/64")
	// `table all` lists both families.
	routeMetrics := func() []string {
		t.Helper()
		out, err := exec.Command("ip", "-n", name, "-j", "route", "show", "table", "all", "dev", "bgp-nic", "proto", "201").Output()
		if err != nil {
			t.Fatal(err)
		}
		var routes []struct {
			Dst    string `json:"dst"`
			Metric uint32 `json:"metric"`
		}
		if err := json.Unmarshal(out, &routes); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range routes {
			got = append(got, fmt.Sprintf("%s metric %d", r.Dst, r.Metric))
		}
		slices.Sort(got)
		return got
	}
	in := []NICRoute{{p4, 105}, {p6, 105}}
	res, err := a.SyncRoutes(context.Background(), in)
	if err != nil || len(res.Added) != 2 {
		t.Fatalf("first pass: %+v, %v", res, err)
	}
	if d := cmp.Diff([]string{"10.0.0.0/24 metric 105", "2001:db8:10::/64 metric 105"}, routeMetrics()); d != "" {
		t.Errorf("routes (-want +got):\n%s", d)
	}
	changed := []NICRoute{{p4, 104}, {p6, 104}}
	res, err = a.SyncRoutes(context.Background(), changed)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(RouteResult{Remetered: []netip.Prefix{p4, p6}, Installed: changed}, res, cmpOpts,
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("metric change (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"10.0.0.0/24 metric 104", "2001:db8:10::/64 metric 104"}, routeMetrics()); d != "" {
		t.Errorf("routes after the change (-want +got):\n%s", d)
	}
	if again, err := a.SyncRoutes(context.Background(), changed); err != nil || again.Changed() {
		t.Errorf("second pass must change nothing: %+v, %v", again, err)
	}
}
