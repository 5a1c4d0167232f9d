//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netns"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// ipIn runs ip (or another command) inside the named namespace and returns its output;
// the tests read state back through iproute2, independently of the code under test.
func ipIn(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func execIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func newWirerIn(t testing.TB, ns netns.NsHandle) *Wirer {
	t.Helper()
	w, err := NewWirerAt(ns, testWiringOpts, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// wiredDesired is one provider bridge with every kind of wiring: provider VMs, gateway ports
// with their MAC (IPv4 and IPv6) and tenant subnets behind them.
func wiredDesired() exposure.Desired {
	br := "br-ex"
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	return exposure.Desired{
		Bridges: []exposure.Bridge{{Name: br, Physnet: "physnet1"}},
		Exposures: []*exposure.Exposure{
			{Prefix: p("10.0.0.0/24"), Kind: exposure.KindTenantSubnet, Wiring: exposure.Wiring{Bridge: br, Via: a("172.24.4.1")}},
			{Prefix: p("172.24.4.1/32"), Kind: exposure.KindGateway, Wiring: exposure.Wiring{Bridge: br, MAC: "fa:16:3e:00:00:01"}},
			{Prefix: p("172.24.4.10/32"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: br}},
			{Prefix: p("192.0.2.7/32"), Kind: exposure.KindVM}, // no bridge on this node: not wired
			{Prefix: p("2001:db8::1/128"), Kind: exposure.KindGateway, Wiring: exposure.Wiring{Bridge: br, MAC: "fa:16:3e:00:00:01"}},
			{Prefix: p("2001:db8::10/128"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: br}},
			{Prefix: p("2001:db8:1::/64"), Kind: exposure.KindTenantSubnet, Wiring: exposure.Wiring{Bridge: br, Via: a("2001:db8::1")}},
		},
	}
}

// wiredItems is what wiredDesired installs.
var wiredItems = []string{
	"neigh 172.24.4.1 lladdr fa:16:3e:00:00:01 dev br-ex nud permanent",
	"neigh 2001:db8::1 lladdr fa:16:3e:00:00:01 dev br-ex nud permanent",
	"neigh proxy 2001:db8::1 dev br-ex",
	"route 0.0.0.0/0 dev br-ex table 3000",
	"route 10.0.0.0/24 via 172.24.4.1 dev br-ex table 3000 onlink",
	"route 172.24.4.1/32 dev br-ex table 3000",
	"route 172.24.4.10/32 dev br-ex table 3000",
	"route 2001:db8:1::/64 via 2001:db8::1 dev br-ex table 3000 onlink",
	"route 2001:db8::1/128 dev br-ex table 3000",
	"route 2001:db8::10/128 dev br-ex table 3000",
	"route ::/0 dev br-ex table 3000",
	"rule to 10.0.0.0/24 lookup 3000",
	"rule to 172.24.4.1/32 lookup 3000",
	"rule to 172.24.4.10/32 lookup 3000",
	"rule to 2001:db8:1::/64 lookup 3000",
	"rule to 2001:db8::1/128 lookup 3000",
	"rule to 2001:db8::10/128 lookup 3000",
}

var wiredSysctls = []string{
	"link set br-ex up",
	"sysctl net.ipv4.conf.br-ex.proxy_arp=1",
	"sysctl net.ipv4.ip_forward=1",
	"sysctl net.ipv6.conf.all.forwarding=1",
	"sysctl net.ipv6.conf.br-ex.proxy_ndp=1",
}

// syncWiringTwice runs SyncWiring and checks the first result, then proves that the
// second pass changes nothing.
func syncWiringTwice(t *testing.T, w *Wirer, d exposure.Desired, want WiringResult, installed []string) {
	t.Helper()
	got, err := w.SyncWiring(context.Background(), d)
	if err != nil {
		t.Fatalf("first SyncWiring: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Fatalf("first SyncWiring (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(installed, w.Installed(), cmpOpts); diff != "" {
		t.Fatalf("installed after the first SyncWiring (-want +got):\n%s", diff)
	}
	again, err := w.SyncWiring(context.Background(), d)
	if err != nil {
		t.Fatalf("second SyncWiring: %v", err)
	}
	if diff := cmp.Diff(WiringResult{}, again, cmpOpts); diff != "" {
		t.Fatalf("second SyncWiring must change nothing (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(installed, w.Installed(), cmpOpts); diff != "" {
		t.Fatalf("installed after the second SyncWiring (-want +got):\n%s", diff)
	}
}

func TestWiringIdempotent(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	// Any real node has lo up; IPv4 onlink next hops are checked against its local table.
	ipIn(t, name, "link", "set", "lo", "up")
	// A new namespace may inherit forwarding from the host (podman turns it on there): start
	// from a node that forwards nothing, so the wiring has to turn it on.
	for _, s := range []string{"net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"} {
		execIn(t, name, "sysctl", "-qw", s)
	}
	addBridge(t, h, "br-ex", false) // a provider bridge that is still down
	w := newWirerIn(t, ns)

	syncWiringTwice(t, w, wiredDesired(), WiringResult{
		Added: slices.Sorted(slices.Values(append(slices.Clone(wiredItems), wiredSysctls...))),
	}, wiredItems)

	// Read back with iproute2.
	if got, want := lines(ipIn(t, name, "rule", "show", "pref", "2000")), []string{
		"2000:	from all to 10.0.0.0/24 lookup 3000",
		"2000:	from all to 172.24.4.1 lookup 3000",
		"2000:	from all to 172.24.4.10 lookup 3000",
	}; !cmp.Equal(got, want) {
		t.Errorf("ip rule pref 2000 (-want +got):\n%s", cmp.Diff(want, got))
	}
	if got := ipIn(t, name, "-6", "rule", "show", "pref", "2000"); !strings.Contains(got, "to 2001:db8:1::/64 lookup 3000") {
		t.Errorf("ip -6 rule pref 2000:\n%s", got)
	}
	if got, want := lines(ipIn(t, name, "route", "show", "table", "3000")), []string{
		"10.0.0.0/24 via 172.24.4.1 dev br-ex proto 149 onlink",
		"172.24.4.1 dev br-ex proto 149 scope link",
		"172.24.4.10 dev br-ex proto 149 scope link",
		"default dev br-ex proto 149 scope link",
	}; !cmp.Equal(got, want) {
		t.Errorf("ip route table 3000 (-want +got):\n%s", cmp.Diff(want, got))
	}
	if got := ipIn(t, name, "neigh", "show", "proto", "149"); !strings.Contains(got, "172.24.4.1 dev br-ex lladdr fa:16:3e:00:00:01 PERMANENT proto 149") {
		t.Errorf("ip neigh proto 149:\n%s", got)
	}
	if got := ipIn(t, name, "-6", "neigh", "show", "proxy"); !strings.Contains(got, "2001:db8::1 dev br-ex proxy proto 149") {
		t.Errorf("ip -6 neigh proxy:\n%s", got)
	}
	for _, s := range []string{"net.ipv4.ip_forward", "net.ipv4.conf.br-ex.proxy_arp", "net.ipv6.conf.br-ex.proxy_ndp", "net.ipv6.conf.all.forwarding"} {
		if got := execIn(t, name, "sysctl", "-n", s); got != "1" {
			t.Errorf("%s = %s in the namespace, want 1", s, got)
		}
	}

	// Nothing exposed any more: only the bridge's table and its default routes stay.
	syncWiringTwice(t, w, exposure.Desired{Bridges: wiredDesired().Bridges}, WiringResult{
		Removed: slices.DeleteFunc(slices.Clone(wiredItems), func(s string) bool {
			return strings.HasPrefix(s, "route 0.0.0.0/0") || strings.HasPrefix(s, "route ::/0")
		}),
	}, []string{"route 0.0.0.0/0 dev br-ex table 3000", "route ::/0 dev br-ex table 3000"})
	if got := ipIn(t, name, "neigh", "show", "dev", "br-ex") + ipIn(t, name, "-6", "neigh", "show", "proxy"); strings.TrimSpace(got) != "" {
		t.Errorf("neighbours left after the gateways went away:\n%s", got)
	}
}

func TestForeignStateUntouched(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	addBridge(t, h, "eth0", true)
	plant := [][]string{
		// an operator's state, in our tables and at our addresses but without our marks
		{"addr", "add", "192.168.5.1/24", "dev", "eth0"},
		{"addr", "add", "172.24.4.10/32", "dev", "eth0"},
		{"rule", "add", "to", "172.24.4.10/32", "lookup", "100", "pref", "1500"},
		{"route", "add", "172.24.4.99/32", "dev", "br-ex", "table", "3000", "proto", "static"},
		{"route", "add", "172.24.4.98/32", "dev", "br-ex", "table", "100", "proto", "149"},
		{"route", "add", "172.24.4.97/32", "dev", "eth0", "proto", "149"},
		{"neigh", "add", "172.24.4.50", "lladdr", "fa:16:3e:aa:aa:aa", "dev", "br-ex", "nud", "permanent"},
		{"neigh", "add", "172.24.4.51", "lladdr", "fa:16:3e:aa:aa:ab", "dev", "eth0", "nud", "permanent", "proto", "149"},
		{"-6", "neigh", "add", "proxy", "2001:db8::50", "dev", "br-ex"},
		// stale state of the agent's, from a previous run
		{"rule", "add", "to", "172.24.4.77/32", "lookup", "3000", "pref", "2000"},
		{"rule", "add", "from", "172.24.4.78/32", "lookup", "3001", "pref", "2000"},
		{"route", "add", "172.24.4.77/32", "dev", "br-ex", "table", "3000", "proto", "149"},
		{"route", "add", "172.24.4.78/32", "dev", "br-ex", "table", "3017", "proto", "149"},
		{"neigh", "add", "172.24.4.77", "lladdr", "fa:16:3e:bb:bb:bb", "dev", "br-ex", "nud", "permanent", "proto", "149"},
		{"-6", "neigh", "add", "proxy", "2001:db8::77", "dev", "br-ex", "proto", "149"},
	}
	for _, args := range plant {
		ipIn(t, name, args...)
	}
	foreign := func() string {
		// The kernel's own duplicate address detection ends while the test runs: the
		// link-local address's "tentative" flag is not the agent's doing.
		return strings.ReplaceAll(ipIn(t, name, "addr", "show", "dev", "eth0"), " tentative", "") +
			ipIn(t, name, "rule", "show", "pref", "1500") +
			ipIn(t, name, "route", "show", "table", "all", "proto", "static") +
			ipIn(t, name, "route", "show", "table", "100") +
			ipIn(t, name, "route", "show", "dev", "eth0", "proto", "149") +
			ipIn(t, name, "neigh", "show", "172.24.4.50") +
			ipIn(t, name, "neigh", "show", "dev", "eth0") +
			ipIn(t, name, "-6", "neigh", "show", "proxy", "2001:db8::50")
	}
	before := foreign()

	w := newWirerIn(t, ns)
	d := exposure.Desired{
		Bridges: []exposure.Bridge{{Name: "br-ex", Physnet: "physnet1"}},
		Exposures: []*exposure.Exposure{
			{Prefix: netip.MustParsePrefix("172.24.4.10/32"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: "br-ex"}},
		},
	}
	installed := []string{
		"route 0.0.0.0/0 dev br-ex table 3000",
		"route 172.24.4.10/32 dev br-ex table 3000",
		"route ::/0 dev br-ex table 3000",
		"rule to 172.24.4.10/32 lookup 3000",
	}
	got, err := w.SyncWiring(context.Background(), d)
	if err != nil {
		t.Fatalf("SyncWiring: %v", err)
	}
	wantRemoved := []string{
		"neigh 172.24.4.77 lladdr fa:16:3e:bb:bb:bb dev br-ex nud permanent",
		"neigh proxy 2001:db8::77 dev br-ex",
		"route 172.24.4.77/32 dev br-ex table 3000",
		"route 172.24.4.78/32 dev br-ex table 3017",
		"rule to 172.24.4.77/32 lookup 3000",
	}
	if diff := cmp.Diff(installed, w.Installed(), cmpOpts); diff != "" {
		t.Errorf("Installed (-want +got):\n%s", diff)
	}
	// The "from" rule at our priority is ours too: removed, under its own description.
	if len(got.Removed) != len(wantRemoved)+1 || !slices.ContainsFunc(got.Removed, func(s string) bool { return strings.Contains(s, "172.24.4.78") && strings.HasPrefix(s, "rule") }) {
		t.Errorf("Removed = %q, want %q and the from-rule", got.Removed, wantRemoved)
	}
	for _, r := range wantRemoved {
		if !slices.Contains(got.Removed, r) {
			t.Errorf("stale %q not removed; removed %q", r, got.Removed)
		}
	}
	if again, err := w.SyncWiring(context.Background(), d); err != nil || again.Changed() {
		t.Errorf("second pass: %+v, %v; want no change", again, err)
	}
	if after := foreign(); after != before {
		t.Errorf("foreign state changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := ipIn(t, name, "rule", "show", "pref", "2000"); strings.Contains(got, "172.24.4.7") {
		t.Errorf("stale rules left at pref 2000:\n%s", got)
	}
}

// BenchmarkWiringPass measures a pass over n provider-VM exposures (IPv4 and IPv6 halves):
// the cold pass that installs every rule and route, and the idle pass that finds nothing to do.
// wirer-heap-bytes is the heap the Wirer keeps after the cold pass (its mirror and desired
// state above all), measured around it after forced collections.
func BenchmarkWiringPass(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("exposures=%d", n), func(b *testing.B) {
			ns, name, h := newNamedNetns(b)
			ipIn(b, name, "link", "set", "lo", "up")
			addBridge(b, h, "br-ex", true)
			w := newWirerIn(b, ns)
			w.log = slog.New(slog.DiscardHandler)
			d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}}}
			for i := range n {
				var a netip.Addr
				if i%2 == 0 {
					a = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				} else {
					a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
				}
				d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: exposure.HostPrefix(a), Kind: exposure.KindVM,
					Wiring: exposure.Wiring{Bridge: "br-ex"}})
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := w.SyncWiring(context.Background(), d)
			if err != nil {
				b.Fatal(err)
			}
			cold := time.Since(start)
			runtime.GC()
			runtime.ReadMemStats(&after)
			if got := len(w.Installed()); got != 2*n+2 {
				b.Fatalf("installed %d items, want %d", got, 2*n+2)
			}
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				if res, err := w.SyncWiring(context.Background(), d); err != nil || res.Changed() {
					b.Fatalf("idle pass: %v changed=%v", err, res.Changed())
				}
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)), "wirer-heap-bytes")
		})
	}
}

// TestWiringRestartCleansARetiredBridge: neighbours and NDP proxies wired by one run on a
// bridge that left the mappings while the agent was down are removed by the next run when
// that bridge is named retired; a neighbour with the agent's protocol on a device that is
// not named retired stays (it is not the agent's to judge).
func TestWiringRestartCleansARetiredBridge(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	addBridge(t, h, "br-old", true)
	addBridge(t, h, "eth0", true)
	ipIn(t, name, "neigh", "add", "172.24.4.51", "lladdr", "fa:16:3e:aa:aa:ab", "dev", "eth0", "nud", "permanent", "proto", "149")
	gw := func(br string) exposure.Desired {
		return exposure.Desired{
			Bridges: []exposure.Bridge{{Name: br, Physnet: "physnet1"}},
			Exposures: []*exposure.Exposure{
				{Prefix: netip.MustParsePrefix("172.24.4.1/32"), Kind: exposure.KindGateway, Wiring: exposure.Wiring{Bridge: br, MAC: "fa:16:3e:00:00:01"}},
				{Prefix: netip.MustParsePrefix("2001:db8::1/128"), Kind: exposure.KindGateway, Wiring: exposure.Wiring{Bridge: br, MAC: "fa:16:3e:00:00:01"}},
			},
		}
	}
	first, err := NewWirerAt(ns, testWiringOpts, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.SyncWiring(context.Background(), gw("br-old")); err != nil {
		t.Fatal(err)
	}
	first.Close() // the agent stops and leaves its state

	second := newWirerIn(t, ns)
	if _, err := second.SyncWiring(context.Background(), gw("br-ex"), "br-old", "br-gone"); err != nil {
		t.Fatal(err)
	}
	if got := ipIn(t, name, "neigh", "show", "dev", "br-old") + ipIn(t, name, "-6", "neigh", "show", "dev", "br-old") +
		ipIn(t, name, "-6", "neigh", "show", "proxy", "dev", "br-old"); strings.TrimSpace(got) != "" {
		t.Errorf("the previous run's neighbours on br-old survived:\n%s", got)
	}
	if got := ipIn(t, name, "route", "show", "table", "all", "dev", "br-old", "proto", "149"); strings.TrimSpace(got) != "" {
		t.Errorf("the previous run's routes on br-old survived:\n%s", got)
	}
	if got := ipIn(t, name, "neigh", "show", "dev", "eth0"); !strings.Contains(got, "172.24.4.51") {
		t.Errorf("a neighbour on a device not named retired was removed:\n%s", got)
	}
	if got := ipIn(t, name, "neigh", "show", "dev", "br-ex"); !strings.Contains(got, "172.24.4.1 lladdr fa:16:3e:00:00:01 PERMANENT") {
		t.Errorf("br-ex was not wired:\n%s", got)
	}
	again, err := second.SyncWiring(context.Background(), gw("br-ex"), "br-old")
	if err != nil || len(again.Added)+len(again.Removed) != 0 {
		t.Errorf("a second pass must change nothing: %+v, %v", again, err)
	}
}

// syncBuffer is a bytes.Buffer safe for a monitor process writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWiringMakesBeforeBreak: when a provider bridge's table is renumbered (a bridge that
// sorts first is added), the rule into the new table exists before the old one goes, so
// traffic for the prefix never falls through to the main table.
func TestWiringMakesBeforeBreak(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	addBridge(t, h, "br-a", true)
	w := newWirerIn(t, ns)
	vm := exposure.Exposure{Prefix: netip.MustParsePrefix("172.24.4.10/32"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: "br-ex"}}
	if _, err := w.SyncWiring(context.Background(), exposure.Desired{
		Bridges: []exposure.Bridge{{Name: "br-ex"}}, Exposures: []*exposure.Exposure{&vm}}); err != nil {
		t.Fatal(err)
	}

	var events syncBuffer
	mon := exec.Command("ip", "-n", name, "monitor", "rule")
	mon.Stdout = &events
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mon.Process.Kill(); _ = mon.Wait() })
	// The monitor is listening once it reports a marker rule; one added before it subscribed
	// is never reported, so each poll adds another.
	marker := 0
	waitFor(t, "ip monitor to report a marker rule", func() bool {
		if strings.Contains(events.String(), "lookup 100") {
			return true
		}
		marker++
		_ = exec.Command("ip", "-n", name, "rule", "add", "to", fmt.Sprintf("10.255.%d.%d", marker/250%250, marker%250+1),
			"lookup", "100", "pref", "1500").Run()
		return false
	})

	if _, err := w.SyncWiring(context.Background(), exposure.Desired{
		Bridges: []exposure.Bridge{{Name: "br-a"}, {Name: "br-ex"}}, Exposures: []*exposure.Exposure{&vm}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old rule's deletion", func() bool { return strings.Contains(events.String(), "Deleted 2000:") })
	out := events.String()
	added := strings.Index(out, "to 172.24.4.10 lookup 3001")
	deleted := strings.Index(out, "to 172.24.4.10 lookup 3000")
	if added < 0 || deleted < 0 || added > deleted {
		t.Errorf("want the rule into the new table (3001) before the old one (3000) is deleted:\n%s", out)
	}
}
