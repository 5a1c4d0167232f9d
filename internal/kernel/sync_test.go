//go:build privileged

package kernel

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// cmpOpts compare netip.Addr by value and treat nil and empty slices alike.
var cmpOpts = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})}

// syncTwice runs Sync, checks the first Result against want, then proves
// that a second pass with the same input changes nothing.
func syncTwice(t *testing.T, a *Applier, in []HostAddr, want Result) {
	t.Helper()
	got, err := a.Sync(context.Background(), in)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Fatalf("first Sync result (-want +got):\n%s", d)
	}
	again, err := a.Sync(context.Background(), in)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if d := cmp.Diff(Result{Installed: want.Installed}, again, cmpOpts); d != "" {
		t.Fatalf("second Sync must change nothing (-want +got):\n%s", d)
	}
}

func newSyncApplier(t *testing.T) (*netlink.Handle, *Applier) {
	t.Helper()
	ns, _, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", true)
	return h, newApplierAt(t, ns, Options{NIC: "bgp-nic"})
}

func TestSyncAddsAndSecondPassChangesNothing(t *testing.T) {
	t.Parallel()
	h, a := newSyncApplier(t)
	want := addrs("10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2")
	// Unsorted, duplicated and v4-mapped input is normalised.
	in := append(addrs("2001:db8::2", "::ffff:10.0.0.2", "10.0.0.1", "2001:db8::1"), want...)
	syncTwice(t, a, hosts(101, in), Result{Added: want, LocalRoutesDeleted: want, Installed: hosts(101, want)})

	got, err := a.Installed(context.Background())
	if err != nil {
		t.Fatalf("Installed: %v", err)
	}
	if d := cmp.Diff(hosts(101, want), got, cmpOpts); d != "" {
		t.Errorf("Installed (-want +got):\n%s", d)
	}
	list, err := h.AddrList(mustLink(t, h, "bgp-nic"), netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range list {
		if ad.IP.IsLinkLocalUnicast() {
			continue
		}
		if ad.Flags&unix.IFA_F_NODAD == 0 || ad.Flags&unix.IFA_F_TENTATIVE != 0 {
			t.Errorf("%s has flags %#x, want nodad and not tentative", ad.IPNet, ad.Flags)
		}
	}
}

func TestSyncLeavesForeignState(t *testing.T) {
	t.Parallel()
	h, a := newSyncApplier(t)
	addBridge(t, h, "other", true)
	for _, cidr := range []string{
		"10.0.0.9/32",         // ours (a /32 on the NIC) and not wanted: stale
		"2001:db8::9/128",     // ours and stale
		"192.168.5.1/24",      // an operator's subnet address
		"10.0.0.1/24",         // same address as a wanted one, other length
		"2001:db8:ffff::1/64", // an operator's IPv6 subnet address
		"fe80::99/128",        // link-local, even as /128, is never ours
	} {
		plantAddr(t, h, "bgp-nic", cidr)
	}
	plantAddr(t, h, "other", "10.0.0.9/32")
	plantAddr(t, h, "other", "10.0.0.50/32")
	plantAddr(t, h, "other", "2001:db8::50/128")
	nicBefore := devAddrs(t, h, "bgp-nic")
	otherBefore := devAddrs(t, h, "other")
	otherLocalBefore := localEntries(t, h, "other", unix.RT_TABLE_LOCAL)

	want := addrs("10.0.0.1", "2001:db8::1")
	syncTwice(t, a, hosts(102, want), Result{
		Added:              want,
		Removed:            addrs("10.0.0.9", "2001:db8::9"),
		LocalRoutesDeleted: want,
		Installed:          hosts(102, want),
	})

	wantNIC := slices.DeleteFunc(slices.Clone(nicBefore), func(s string) bool {
		return s == "10.0.0.9/32" || s == "2001:db8::9/128"
	})
	wantNIC = append(wantNIC, "10.0.0.1/32", "2001:db8::1/128")
	slices.Sort(wantNIC)
	if d := cmp.Diff(wantNIC, devAddrs(t, h, "bgp-nic")); d != "" {
		t.Errorf("addresses on bgp-nic (-want +got):\n%s", d)
	}
	if d := cmp.Diff(otherBefore, devAddrs(t, h, "other")); d != "" {
		t.Errorf("addresses on another device changed (-before +after):\n%s", d)
	}
	if d := cmp.Diff(otherLocalBefore, localEntries(t, h, "other", unix.RT_TABLE_LOCAL)); d != "" {
		t.Errorf("local-table entries of another device changed (-before +after):\n%s", d)
	}
	// The operator's /24 stays host-local: only exposed addresses lose their entry.
	if got := localEntries(t, h, "bgp-nic", unix.RT_TABLE_LOCAL); !slices.Contains(got, "192.168.5.1/32") {
		t.Errorf("local entries on bgp-nic = %v, want the operator's 192.168.5.1/32 kept", got)
	}
}

func TestSyncKeepsExposedAddressesOutOfLocalTable(t *testing.T) {
	t.Parallel()
	h, a := newSyncApplier(t)
	want := addrs("10.0.0.1", "2001:db8::1")
	in := hosts(103, want)
	syncTwice(t, a, in, Result{Added: want, LocalRoutesDeleted: want, Installed: in})
	assertNotLocal(t, h, want)
	nic := mustLink(t, h, "bgp-nic")

	t.Run("re-added by hand", func(t *testing.T) {
		for _, ip := range want {
			r := &netlink.Route{
				Dst: hostNet(ip), LinkIndex: nic.Attrs().Index, Table: unix.RT_TABLE_LOCAL,
				Type: unix.RTN_LOCAL, Scope: netlink.SCOPE_HOST, Protocol: unix.RTPROT_KERNEL,
			}
			if ip.Is4() {
				r.Src = ip.AsSlice()
			}
			if err := h.RouteAdd(r); err != nil {
				t.Fatalf("re-add local route for %s: %v", ip, err)
			}
		}
		syncTwice(t, a, in, Result{LocalRoutesDeleted: want, Installed: in})
		assertNotLocal(t, h, want)
	})

	t.Run("link flap", func(t *testing.T) {
		// Down flushes IPv6 addresses (keep_addr_on_down=0); up re-adds the
		// IPv4 local route. The next pass repairs both.
		if err := h.LinkSetDown(nic); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(nic); err != nil {
			t.Fatal(err)
		}
		if got := localEntries(t, h, "bgp-nic", unix.RT_TABLE_LOCAL); !slices.Contains(got, "10.0.0.1/32") {
			t.Fatalf("local entries after the flap = %v: the kernel did not re-add 10.0.0.1/32, the test proves nothing", got)
		}
		added := addrs("2001:db8::1")
		if got := devAddrs(t, h, "bgp-nic"); slices.Contains(got, "2001:db8::1/128") {
			added = nil // a kernel that keeps IPv6 addresses on down
		}
		syncTwice(t, a, in, Result{Added: added, LocalRoutesDeleted: want, Installed: in})
		assertNotLocal(t, h, want)
	})
}

func assertNotLocal(t *testing.T, h *netlink.Handle, exposed []netip.Addr) {
	t.Helper()
	got := localEntries(t, h, "bgp-nic", unix.RT_TABLE_LOCAL)
	for _, ip := range exposed {
		if p := netip.PrefixFrom(ip, ip.BitLen()).String(); slices.Contains(got, p) {
			t.Errorf("%s is still in the local table: %v", p, got)
		}
	}
}

func TestSyncAdoptsWhatARestartFinds(t *testing.T) {
	t.Parallel()
	h, a := newSyncApplier(t)
	plantAddr(t, h, "bgp-nic", "10.0.0.1/32")
	plantAddr(t, h, "bgp-nic", "2001:db8::1/128")
	want := addrs("10.0.0.1", "2001:db8::1")
	got, err := a.Installed(context.Background())
	if err != nil {
		t.Fatalf("Installed: %v", err)
	}
	if d := cmp.Diff(hosts(0, want), got, cmpOpts); d != "" {
		t.Fatalf("Installed (-want +got):\n%s", d)
	}
	// A previous run left these: nothing is withdrawn, only made non-local.
	syncTwice(t, a, hosts(0, want), Result{LocalRoutesDeleted: want, Installed: hosts(0, want)})
}

func TestSyncSkipsUnexposableAddresses(t *testing.T) {
	t.Parallel()
	_, a := newSyncApplier(t)
	in := append(addrs("10.0.0.1", "fe80::1", "224.0.0.5", "::"), netip.Addr{})
	res, err := a.Sync(context.Background(), hosts(101, in))
	if err == nil {
		t.Fatal("Sync accepted addresses that cannot be exposed")
	}
	for _, want := range []string{"not exposing 4 address(es)", "fe80::1", "224.0.0.5", "::", "invalid (zero) address"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	want := addrs("10.0.0.1")
	if d := cmp.Diff(Result{Added: want, LocalRoutesDeleted: want, Installed: hosts(101, want)}, res, cmpOpts); d != "" {
		t.Errorf("the valid address must still be applied (-want +got):\n%s", d)
	}
}

func TestSyncWithoutNIC(t *testing.T) {
	t.Parallel()
	ns, _, _ := newNamedNetns(t)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	_, err := a.Sync(context.Background(), hosts(101, addrs("10.0.0.1")))
	if err == nil || !strings.Contains(err.Error(), "device bgp-nic does not exist (EnsureDevices creates or adopts it)") {
		t.Fatalf("Sync without the NIC: got %v", err)
	}
	var notFound netlink.LinkNotFoundError
	if _, err := a.Installed(context.Background()); err == nil {
		t.Fatal("Installed without the NIC succeeded")
	} else if !errors.As(err, &notFound) {
		t.Errorf("Installed error %v does not wrap netlink.LinkNotFoundError", err)
	}
}

func TestSyncStopsOnCancelledContext(t *testing.T) {
	t.Parallel()
	h, a := newSyncApplier(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Sync(ctx, hosts(101, addrs("10.0.0.1"))); err != context.Canceled {
		t.Fatalf("Sync with a cancelled context: got %v, want context.Canceled", err)
	}
	for _, s := range devAddrs(t, h, "bgp-nic") {
		if ip := net.ParseIP(strings.Split(s, "/")[0]); ip.To4() != nil {
			t.Errorf("a cancelled Sync added %s", s)
		}
	}
}
