//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

func TestNodeAddresses(t *testing.T) {
	ns, _, h := newNamedNetns(t)
	if err := h.LinkSetUp(mustLink(t, h, "lo")); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"bgp-nic", "eth1", "br-ex", "br-ex.100"} {
		addBridge(t, h, dev, true) // br-ex.100: a bridge standing in for the VLAN device
	}
	plantAddr(t, h, "bgp-nic", "172.24.4.10/32") // the agent's: not infrastructure
	plantAddr(t, h, "eth1", "172.30.1.10/24")
	plantAddr(t, h, "eth1", "2001:db8:30::10/64")
	plantAddr(t, h, "br-ex", "172.24.4.2/24") // on a provider bridge: the address only
	plantAddr(t, h, "br-ex.100", "172.24.5.2/24")
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	got, err := a.NodeAddresses(context.Background(), []string{"br-ex", "br-missing"})
	if err != nil {
		t.Fatal(err)
	}
	var want []netip.Prefix
	for _, s := range []string{"127.0.0.1/8", "172.24.4.2/32", "172.24.5.2/32", "172.30.1.10/24", "::1/128", "2001:db8:30::10/64"} {
		want = append(want, netip.MustParsePrefix(s))
	}
	// Link-local IPv6 addresses may or may not be there yet (bridges get one once up): the
	// core never sees fe80:: in an exposure, so ignore them here.
	var gotGlobal []netip.Prefix
	for _, p := range got {
		if !p.Addr().IsLinkLocalUnicast() {
			gotGlobal = append(gotGlobal, p)
		}
	}
	if diff := cmp.Diff(want, gotGlobal, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("NodeAddresses (-want +got):\n%s", diff)
	}
}

// BenchmarkNodeAddresses: the per-pass read of the node's own addresses, on a node with 20
// devices of 2 addresses each.
func BenchmarkNodeAddresses(b *testing.B) {
	ns, _, h := newNamedNetns(b)
	for i := range 20 {
		dev := fmt.Sprintf("eth%d", i)
		link := addBridge(b, h, dev, true)
		for j := range 2 {
			p := netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.1/24", i, j))
			if err := h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	addBridge(b, h, "bgp-nic", true)
	a := newApplierAt(b, ns, Options{NIC: "bgp-nic"})
	b.ResetTimer()
	for range b.N {
		if got, err := a.NodeAddresses(context.Background(), []string{"eth0"}); err != nil || len(got) < 40 {
			b.Fatalf("NodeAddresses = %d prefixes, %v", len(got), err)
		}
	}
}

// nodeDumps is how many address dumps NodeAddresses has done.
func (a *Applier) nodeDumps() int {
	a.node.mu.Lock()
	defer a.node.mu.Unlock()
	return a.node.dumps
}

// TestKnownNodeAddressesFollowTheWatcher is issue #17's node facts: an event's pass reuses the
// last read of the node's addresses while the watcher sees nothing that may change it — the
// agent's own changes on the NIC included — and reads anew once an address changes on
// another device.
func TestKnownNodeAddressesFollowTheWatcher(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "bgp-nic", true)
	addBridge(t, h, "eth1", true)
	plantAddr(t, h, "eth1", "172.30.1.10/24")
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	startWatch(t, ns, name, WatchOptions{Netns: ns, Mirrors: []Mirrored{a}})
	bg := context.Background()
	bridges := []string{"br-ex"}
	has := func(got []netip.Prefix, s string) bool {
		return slices.Contains(got, netip.MustParsePrefix(s))
	}

	// The full pass's read (startWatch's probe devices were before it).
	if got, err := a.NodeAddresses(bg, bridges); err != nil || !has(got, "172.30.1.10/24") {
		t.Fatalf("NodeAddresses = %v, %v", got, err)
	}
	dumps := a.nodeDumps()

	// The agent exposes 50 addresses on the NIC: the kernel echoes each, none is the node's.
	var want []HostAddr
	for i := range 50 {
		want = append(want, HostAddr{Addr: netip.MustParseAddr(fmt.Sprintf("172.24.4.%d", 10+i))})
	}
	if _, err := a.Sync(bg, want); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watcher to judge the NIC's 50 new addresses", func() bool { return a.nodeAddrEvents() >= 50 })
	got, err := a.KnownNodeAddresses(bg, bridges)
	if err != nil || !has(got, "172.30.1.10/24") || has(got, "172.24.4.10/32") {
		t.Fatalf("KnownNodeAddresses = %v, %v", got, err)
	}
	if n := a.nodeDumps() - dumps; n != 0 {
		t.Errorf("an event's pass with no node address change dumped the addresses %d time(s)", n)
	}

	// An address added by hand on another device is in the next pass's node addresses.
	ipIn(t, name, "addr", "add", "192.0.2.7/24", "dev", "eth1")
	waitFor(t, "the new address in the node addresses", func() bool {
		got, err := a.KnownNodeAddresses(bg, bridges)
		return err == nil && has(got, "192.0.2.7/24")
	})
	// Another provider bridge is another question: read anew.
	dumps = a.nodeDumps()
	if _, err := a.KnownNodeAddresses(bg, []string{"br-ex", "br-vlan"}); err != nil {
		t.Fatal(err)
	}
	if n := a.nodeDumps() - dumps; n != 1 {
		t.Errorf("changed bridge mappings: %d dump(s), want 1", n)
	}
}

// nodeAddrEvents is how many address events the watcher has judged for the node facts.
func (a *Applier) nodeAddrEvents() int {
	a.node.mu.Lock()
	defer a.node.mu.Unlock()
	return a.node.events
}

// BenchmarkNodeAddresses10kOnNIC: the node's addresses with 10,000 exposures on bgp-nic, read
// by a full pass (a dump) and by an event's pass with nothing changed (the kept result).
func BenchmarkNodeAddresses10kOnNIC(b *testing.B) {
	ns, _, h := newNamedNetns(b)
	addBridge(b, h, "bgp-nic", true)
	link := addBridge(b, h, "eth1", true)
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(172, 30, 1, 10), Mask: net.CIDRMask(24, 32)}}); err != nil {
		b.Fatal(err)
	}
	a := newApplierAt(b, ns, Options{NIC: "bgp-nic"})
	var want []HostAddr
	for i := range 10000 {
		want = append(want, HostAddr{Addr: netip.AddrFrom4([4]byte{172, 24, byte(i >> 8), byte(i)})})
	}
	if _, err := a.Sync(context.Background(), want); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		read func(context.Context, []string) ([]netip.Prefix, error)
	}{{"dump", a.NodeAddresses}, {"kept", a.KnownNodeAddresses}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if got, err := c.read(context.Background(), []string{"br-ex"}); err != nil || !slices.Contains(got, netip.MustParsePrefix("172.30.1.10/24")) {
					b.Fatalf("node addresses = %v, %v", got, err)
				}
			}
		})
	}
}

// BenchmarkNodeAddressesWithVMTaps: the node's addresses read by a full pass on a compute
// node with 10,000 exposures on bgp-nic and 1,000 VM devices (veth pairs standing in for
// taps, each end with its IPv6 link-local address).
func BenchmarkNodeAddressesWithVMTaps(b *testing.B) {
	ns, name, h := newNamedNetns(b)
	for _, k := range []string{"all", "default"} {
		if out, err := exec.Command("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf."+k+".accept_dad=0").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
	addBridge(b, h, "bgp-nic", true)
	link := addBridge(b, h, "eth1", true)
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(172, 30, 1, 10), Mask: net.CIDRMask(24, 32)}}); err != nil {
		b.Fatal(err)
	}
	var batch strings.Builder
	for i := range 500 {
		fmt.Fprintf(&batch, "link add tap%d type veth peer name vm%d\nlink set tap%d up\nlink set vm%d up\n", i, i, i, i)
	}
	cmd := exec.Command("ip", "-n", name, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	a := newApplierAt(b, ns, Options{NIC: "bgp-nic"})
	var want []HostAddr
	for i := range 10000 {
		want = append(want, HostAddr{Addr: netip.AddrFrom4([4]byte{172, 24, byte(i >> 8), byte(i)})})
	}
	if _, err := a.Sync(context.Background(), want); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got, err := a.NodeAddresses(context.Background(), []string{"br-ex"}); err != nil || !slices.Contains(got, netip.MustParsePrefix("172.30.1.10/24")) {
			b.Fatalf("node addresses = %v, %v", got, err)
		}
	}
}
