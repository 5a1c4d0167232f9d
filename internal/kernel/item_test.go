package kernel

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"unsafe"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// TestItemSize pins the size of an item: items are the keys of the wiring's two biggest maps,
// the mirror and the desired state, some 21,000 entries each at 10,000 exposures
// (BenchmarkWiringMaps). At 56 bytes a slot of either map is 64 bytes (a key with an int32,
// or with a struct{}, which Go pads); an item of 128 bytes made it 136.
func TestItemSize(t *testing.T) {
	if got := unsafe.Sizeof(item{}); got > 56 {
		t.Errorf("an item is %d bytes, want at most 56", got)
	}
	t.Logf("an item is %d bytes, itemFields %d", unsafe.Sizeof(item{}), unsafe.Sizeof(itemFields{}))
}

// TestItemEquality: two items are equal exactly when all their fields are. An item built
// twice from the same fields equals itself and gives those fields back; items whose fields
// differ in any one field (or in an address's family or zone) are not equal.
func TestItemEquality(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.7")
	v6 := netip.MustParseAddr("2001:db8::7")
	base := itemFields{kind: kindRoute, dst: netip.PrefixFrom(v4, 32), via: netip.MustParseAddr("192.0.2.1"),
		dev: "br-ex", table: 3000, onlink: true}
	variants := []struct {
		name string
		edit func(f *itemFields)
	}{
		{"as is", func(*itemFields) {}},
		{"kind", func(f *itemFields) { f.kind = kindRule }},
		{"dst address", func(f *itemFields) { f.dst = netip.PrefixFrom(netip.MustParseAddr("192.0.2.8"), 32) }},
		{"dst length", func(f *itemFields) { f.dst = netip.PrefixFrom(v4, 31) }},
		{"dst invalid length", func(f *itemFields) { f.dst = netip.PrefixFrom(v4, 33) }},
		{"dst none", func(f *itemFields) { f.dst = netip.Prefix{} }},
		{"dst IPv4 default", func(f *itemFields) { f.dst = netip.MustParsePrefix("0.0.0.0/0") }},
		{"dst IPv6 default", func(f *itemFields) { f.dst = netip.MustParsePrefix("::/0") }},
		{"dst IPv6", func(f *itemFields) { f.dst = netip.PrefixFrom(v6, 128) }},
		{"dst IPv4-mapped IPv6", func(f *itemFields) { f.dst = netip.PrefixFrom(netip.AddrFrom16(v4.As16()), 128) }},
		{"via address", func(f *itemFields) { f.via = netip.MustParseAddr("192.0.2.2") }},
		{"via none", func(f *itemFields) { f.via = netip.Addr{} }},
		{"via IPv4-mapped IPv6", func(f *itemFields) { f.via = netip.AddrFrom16(f.via.As16()) }},
		{"via IPv6", func(f *itemFields) { f.via = netip.MustParseAddr("fe80::1") }},
		{"via IPv6 with a zone", func(f *itemFields) { f.via = netip.MustParseAddr("fe80::1%br-ex") }},
		{"via IPv6 with another zone", func(f *itemFields) { f.via = netip.MustParseAddr("fe80::1%eth0") }},
		{"dev", func(f *itemFields) { f.dev = "br-vlan" }},
		{"dev empty", func(f *itemFields) { f.dev = "" }},
		{"parent", func(f *itemFields) { f.parent = "br-ex" }},
		{"mac", func(f *itemFields) { f.mac = "fa:16:3e:00:00:01" }},
		{"other", func(f *itemFields) { f.other = "route 192.0.2.7/32 via 192.0.2.1 dev br-ex table 3000 onlink" }},
		{"table", func(f *itemFields) { f.table = 3001 }},
		{"vlan", func(f *itemFields) { f.vlan = 1 }},
		{"onlink", func(f *itemFields) { f.onlink = false }},
	}
	items := make([]item, len(variants))
	for k, v := range variants {
		f := base
		v.edit(&f)
		it := f.item()
		if again := f.item(); again != it {
			t.Errorf("%s: built twice, unequal", v.name)
		}
		// Built from copies of its strings: equality must not depend on where they are.
		g := f
		g.dev, g.parent, g.mac, g.other = string([]byte(f.dev)), string([]byte(f.parent)), string([]byte(f.mac)), string([]byte(f.other))
		if g.item() != it {
			t.Errorf("%s: built from copies of its strings, unequal", v.name)
		}
		if got := it.fields(); got != f {
			t.Errorf("%s: gave back %s, want %s", v.name, describe(got), describe(f))
		}
		items[k] = it
	}
	for i := range items {
		for j := range i {
			if items[i] == items[j] {
				t.Errorf("%s and %s: equal items", variants[i].name, variants[j].name)
			}
		}
	}
}

// describe shows every field of f (netip's values print as their internals under %+v).
func describe(f itemFields) string {
	return fmt.Sprintf("{kind %d dst %s via %s dev %q parent %q mac %q other %q table %d vlan %d onlink %v}",
		f.kind, f.dst, f.via, f.dev, f.parent, f.mac, f.other, f.table, f.vlan, f.onlink)
}

// scaleDesired is the desired state of a node that exposes n provider VMs, as
// integration/scale builds it: n/100 routers (at most 10) with their gateway here, each with a
// tenant subnet behind it, and n/20 floating IPs.
func scaleDesired(n int) exposure.Desired {
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex", Physnet: "physnet1"}}}
	add := func(p netip.Prefix, kind exposure.Kind, w exposure.Wiring) {
		d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: p, Kind: kind, Object: fmt.Sprint(len(d.Exposures)), Wiring: w})
	}
	for i := range n {
		add(exposure.HostPrefix(netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})), exposure.KindVM,
			exposure.Wiring{Bridge: "br-ex"})
	}
	nr := min(max(n/100, 1), 10)
	for r := range nr {
		gw := netip.AddrFrom4([4]byte{100, 120, 0, byte(1 + r)})
		add(exposure.HostPrefix(gw), exposure.KindGateway, exposure.Wiring{Bridge: "br-ex", MAC: fmt.Sprintf("fa:16:01:00:00:%02x", r)})
		add(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(r), 0}), 24), exposure.KindTenantSubnet, exposure.Wiring{Bridge: "br-ex", Via: gw})
		for k := range max(n/20/nr, 1) {
			add(exposure.HostPrefix(netip.AddrFrom4([4]byte{100, 110, byte((r*1000 + k) >> 8), byte(r*1000 + k)})), exposure.KindFIP,
				exposure.Wiring{Bridge: "br-ex"})
		}
	}
	return d
}

// BenchmarkWiringMaps measures the heap the wiring's two item maps take at 10,000 exposures:
// the desired state (want-map-bytes, as desired builds it) and a mirror of the same items
// (mirror-map-bytes, a map[item]struct{}); ns/op is one build of the desired state.
func BenchmarkWiringMaps(b *testing.B) {
	d := scaleDesired(10000)
	w := newWirer(nil, testWiringOpts, nil)
	var before, mid, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ws := w.desired(d, false)
	runtime.GC()
	runtime.ReadMemStats(&mid)
	mirror := make(map[item]struct{}, len(ws.items))
	for it := range ws.items {
		mirror[it] = struct{}{}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if errs := ws.errs(); len(errs) > 0 {
		b.Fatal(errs)
	}
	runtime.KeepAlive(ws)
	runtime.KeepAlive(mirror)
	b.ReportAllocs()
	for b.Loop() {
		w.desired(d, false)
	}
	// After the loop: b.Loop's first call resets the timer, which drops reported metrics.
	b.ReportMetric(float64(len(ws.items)), "items")
	b.ReportMetric(float64(mid.HeapAlloc-before.HeapAlloc), "want-map-bytes")
	b.ReportMetric(float64(after.HeapAlloc-mid.HeapAlloc), "mirror-map-bytes")
}
