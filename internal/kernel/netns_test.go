//go:build privileged

package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Privileged helpers: every test that touches the kernel gets its own named
// network namespace, so tests (and packages) run in parallel without sharing
// devices, and the host is never modified.

var nsSeq atomic.Int64

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	const msg = "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces: run `sudo go test ./internal/kernel`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: privileged tests must run, not skip)")
	}
	t.Skip(msg)
}

var unsafeNSChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newNamedNetns creates a fresh network namespace for t and returns it (open until t
// ends), its name, for `ip -n NAME`, and a netlink handle inside it. The namespace is
// deleted when t ends.
func newNamedNetns(t testing.TB) (netns.NsHandle, string, *netlink.Handle) {
	t.Helper()
	requireRoot(t)
	label := unsafeNSChars.ReplaceAllString(t.Name(), "_")
	if len(label) > 40 {
		label = label[:40]
	}
	name := fmt.Sprintf("kt-%s-%d-%d", label, os.Getpid(), nsSeq.Add(1))

	type created struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan created, 1)
	go func() {
		// NewNamed moves this thread into the new namespace. The thread stays
		// locked, so the runtime discards it when the goroutine exits instead
		// of reusing a thread in the wrong namespace.
		runtime.LockOSThread()
		ns, err := netns.NewNamed(name)
		ch <- created{ns, err}
	}()
	c := <-ch
	if c.err != nil {
		t.Fatalf("create network namespace %s: %v", name, c.err)
	}
	t.Cleanup(func() {
		c.ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	h, err := netlink.NewHandleAt(c.ns)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	return c.ns, name, h
}

// newApplierAt returns an applier working in ns, closed when t ends.
func newApplierAt(t testing.TB, ns netns.NsHandle, opts Options) *Applier {
	t.Helper()
	a, err := NewAt(ns, opts, testLogger(t))
	if err != nil {
		t.Fatalf("kernel applier: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// addBridge creates an empty bridge, the stand-in for a dummy on kernels
// without one; up says whether to set it up.
func addBridge(t testing.TB, h *netlink.Handle, name string, up bool) netlink.Link {
	t.Helper()
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		t.Fatalf("create bridge %s: %v", name, err)
	}
	link := mustLink(t, h, name)
	if up {
		if err := h.LinkSetUp(link); err != nil {
			t.Fatalf("set %s up: %v", name, err)
		}
		link = mustLink(t, h, name)
	}
	return link
}

func mustLink(t testing.TB, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	return link
}

// plantAddr adds cidr to the device the way an operator would (nodad for
// IPv6, so it is never tentative).
func plantAddr(t *testing.T, h *netlink.Handle, dev, cidr string) {
	t.Helper()
	p := netip.MustParsePrefix(cidr)
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(mustLink(t, h, dev), addr); err != nil {
		t.Fatalf("plant %s on %s: %v", cidr, dev, err)
	}
	if p.Addr().Is6() {
		// The kernel inserts the IPv6 local route from a workqueue after the
		// add returns; wait, so the planted state is complete before the test
		// looks at it.
		host := netip.PrefixFrom(p.Addr(), 128).String()
		waitFor(t, "local route of "+host+" on "+dev, func() bool {
			return slices.Contains(localEntries(t, h, dev, unix.RT_TABLE_LOCAL), host)
		})
	}
}

// waitFor polls cond until it holds, failing t after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// devAddrs lists every address on dev as sorted "ip/len" strings.
func devAddrs(t *testing.T, h *netlink.Handle, dev string) []string {
	t.Helper()
	addrs, err := h.AddrList(mustLink(t, h, dev), netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses on %s: %v", dev, err)
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
	}
	slices.Sort(out)
	return out
}

// localEntries lists the destinations of the local-table routes on dev,
// sorted; table is 255 without a VRF, the VRF's table with one.
func localEntries(t *testing.T, h *netlink.Handle, dev string, table int) []string {
	t.Helper()
	filter := &netlink.Route{Table: table, LinkIndex: mustLink(t, h, dev).Attrs().Index, Type: unix.RTN_LOCAL}
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, filter,
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF|netlink.RT_FILTER_TYPE)
	if err != nil {
		t.Fatalf("list local routes on %s: %v", dev, err)
	}
	var out []string
	for _, r := range routes {
		out = append(out, r.Dst.String())
	}
	slices.Sort(out)
	return out
}

// kernelSupports asks the kernel directly whether it can create links of
// probe's kind, so tests know which branch to expect independently of the
// code under test. The probe link is deleted again.
func kernelSupports(t *testing.T, h *netlink.Handle, probe netlink.Link) bool {
	t.Helper()
	err := h.LinkAdd(probe)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return false
	}
	if err != nil {
		t.Fatalf("probe %s support: %v", probe.Type(), err)
	}
	if err := h.LinkDel(probe); err != nil {
		t.Fatalf("delete %s probe: %v", probe.Type(), err)
	}
	return true
}

// hosts pairs each address with metric, as Sync wants them.
func hosts(metric uint32, ips []netip.Addr) []HostAddr {
	out := make([]HostAddr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, HostAddr{Addr: ip, Metric: metric})
	}
	return out
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}
