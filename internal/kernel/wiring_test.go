package kernel

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// fakeWiring records kernel state and prints every change as the `ip` command that would
// make it, so the request-building logic is testable where the kernel cannot run it (VLAN
// devices here: this kernel has no 8021q).
type fakeWiring struct {
	devs    map[string]linkInfo
	items   map[item]struct{}
	sysctls map[string]string
	cmds    []string
	noVLAN  bool
	noIPv6  bool // the host booted with ipv6.disable=1: no /proc/sys/net/ipv6
}

func newFakeWiring(bridges ...string) *fakeWiring {
	f := &fakeWiring{devs: map[string]linkInfo{}, items: map[item]struct{}{}, sysctls: map[string]string{}}
	for _, b := range bridges {
		f.devs[b] = linkInfo{index: len(f.devs) + 1, kind: "openvswitch"}
	}
	return f
}

func (f *fakeWiring) links() (map[string]linkInfo, error) {
	out := map[string]linkInfo{}
	for k, v := range f.devs {
		out[k] = v
	}
	return out, nil
}

func (f *fakeWiring) owned(_ WiringOptions, _, _ map[int]string, prev map[item]struct{}) (map[item]struct{}, bool, error) {
	if prev != nil && maps.Equal(prev, f.items) {
		return prev, true, nil
	}
	out := map[item]struct{}{}
	for k, v := range f.items {
		out[k] = v
	}
	return out, false, nil
}

func (f *fakeWiring) add(it item, _ WiringOptions) error {
	if f.noIPv6 && it.isIPv6() {
		return fmt.Errorf("ip %s: %w", it, unix.EAFNOSUPPORT) // what a kernel without IPv6 answers
	}
	if _, ok := f.devs[it.dev()]; !ok && it.kind != kindRule {
		return fmt.Errorf("device %s: %w", it.dev(), unix.ENODEV)
	}
	f.items[it] = struct{}{}
	f.cmds = append(f.cmds, "ip "+strings.Replace(it.String(), " ", " add ", 1))
	return nil
}

func (f *fakeWiring) del(it item, _ WiringOptions) error {
	delete(f.items, it)
	f.cmds = append(f.cmds, "ip "+strings.Replace(it.String(), " ", " del ", 1))
	return nil
}

func (f *fakeWiring) addVLAN(name, parent string, vid uint16) error {
	if f.noVLAN {
		return &UnsupportedLinkKindError{What: "VLAN device " + name, Kind: "vlan", Advice: "load the 8021q module", Err: unix.EOPNOTSUPP}
	}
	f.devs[name] = linkInfo{index: len(f.devs) + 1, kind: "vlan", parent: f.devs[parent].index, vlan: vid}
	f.cmds = append(f.cmds, fmt.Sprintf("ip link add link %s name %s type vlan id %d", parent, name, vid))
	return nil
}

func (f *fakeWiring) delLink(name string) error {
	delete(f.devs, name)
	f.cmds = append(f.cmds, "ip link del "+name)
	return nil
}

func (f *fakeWiring) setUp(name string) error {
	li := f.devs[name]
	li.up = true
	f.devs[name] = li
	f.cmds = append(f.cmds, "ip link set "+name+" up")
	return nil
}

func (f *fakeWiring) readSysctl(path string) (string, error) {
	if f.noIPv6 && strings.HasPrefix(path, "net/ipv6/") {
		return "", fmt.Errorf("open /proc/sys/%s: %w", path, fs.ErrNotExist)
	}
	if v, ok := f.sysctls[path]; ok {
		return v, nil
	}
	return "0", nil
}

func (f *fakeWiring) writeSysctl(path, val string) error {
	f.sysctls[path] = val
	f.cmds = append(f.cmds, "sysctl -w "+strings.ReplaceAll(path, "/", ".")+"="+val)
	return nil
}

func (f *fakeWiring) close() {}

func (f *fakeWiring) takeCmds() []string {
	c := f.cmds
	f.cmds = nil
	return c
}

func TestWiringVLANProviderNetwork(t *testing.T) {
	f := newFakeWiring("br-ex", "br-vlan")
	w := newWirer(f, testWiringOpts, testLogger(t))
	d := exposure.Desired{
		Bridges: []exposure.Bridge{{Name: "br-vlan", VLANs: []uint16{100}}, {Name: "br-ex"}},
		Exposures: []*exposure.Exposure{
			{Prefix: netip.MustParsePrefix("198.51.100.5/32"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: "br-vlan", VLAN: 100}},
		},
	}
	if _, err := w.SyncWiring(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ip link set br-ex up",
		"ip link set br-vlan up",
		"ip link add link br-vlan name br-vlan.100 type vlan id 100",
		"ip link set br-vlan.100 up",
		// br-ex sorts first: table 3000; br-vlan gets 3001.
		"ip route add 0.0.0.0/0 dev br-ex table 3000",
		"ip route add 0.0.0.0/0 dev br-vlan table 3001",
		"ip route add 198.51.100.5/32 dev br-vlan.100 table 3001",
		"ip route add ::/0 dev br-ex table 3000",
		"ip route add ::/0 dev br-vlan table 3001",
		"ip rule add to 198.51.100.5/32 lookup 3001",
		"sysctl -w net.ipv4.conf.br-ex.proxy_arp=1",
		"sysctl -w net.ipv4.conf.br-vlan.100.proxy_arp=1",
		"sysctl -w net.ipv4.conf.br-vlan.proxy_arp=1",
		"sysctl -w net.ipv4.ip_forward=1",
		"sysctl -w net.ipv6.conf.all.forwarding=1",
		"sysctl -w net.ipv6.conf.br-ex.proxy_ndp=1",
		"sysctl -w net.ipv6.conf.br-vlan.100.proxy_ndp=1",
		"sysctl -w net.ipv6.conf.br-vlan.proxy_ndp=1",
	}
	if diff := cmp.Diff(want, f.takeCmds()); diff != "" {
		t.Errorf("first pass (-want +got):\n%s", diff)
	}
	if _, err := w.SyncWiring(context.Background(), d); err != nil || len(f.cmds) > 0 {
		t.Errorf("second pass ran %q (%v), want nothing", f.takeCmds(), err)
	}

	// The VLAN network goes away: its route, rule and device go, in that order.
	d.Bridges[0].VLANs, d.Exposures = nil, nil
	if _, err := w.SyncWiring(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"ip rule del to 198.51.100.5/32 lookup 3001",
		"ip route del 198.51.100.5/32 dev br-vlan.100 table 3001",
		"ip link del br-vlan.100",
	}
	if diff := cmp.Diff(want, f.takeCmds()); diff != "" {
		t.Errorf("after the VLAN network is gone (-want +got):\n%s", diff)
	}
}

func TestWiringBadInputSkippedAndNamed(t *testing.T) {
	f := newFakeWiring("br-ex")
	f.noVLAN = true
	w := newWirer(f, testWiringOpts, testLogger(t))
	p := netip.MustParsePrefix
	d := exposure.Desired{
		Bridges: []exposure.Bridge{{Name: "br-ex", VLANs: []uint16{200}}, {Name: "bad/name"}, {Name: "br-gone"}},
		Exposures: []*exposure.Exposure{
			{Prefix: p("172.24.4.10/32"), Kind: exposure.KindVM, Object: "vm1", Wiring: exposure.Wiring{Bridge: "br-ex"}},
			{Prefix: p("172.24.4.11/32"), Kind: exposure.KindVM, Object: "vm2", Wiring: exposure.Wiring{Bridge: "br-other"}},
			{Prefix: p("10.0.0.0/24"), Kind: exposure.KindTenantSubnet, Object: "net1", Wiring: exposure.Wiring{Bridge: "br-ex", Via: netip.MustParseAddr("2001:db8::1")}},
			{Prefix: p("172.24.4.1/32"), Kind: exposure.KindGateway, Object: "gw1", Wiring: exposure.Wiring{Bridge: "br-ex", MAC: "not-a-mac"}},
			{Prefix: p("172.24.4.12/32"), Kind: exposure.KindVM, Object: "vm3", Wiring: exposure.Wiring{Bridge: "br-ex", VLAN: 300}},
			{Prefix: p("172.24.4.13/32"), Kind: exposure.KindVM, Object: "vm4", Wiring: exposure.Wiring{Bridge: "br-gone"}},
		},
	}
	_, err := w.SyncWiring(context.Background(), d)
	if err == nil {
		t.Fatal("want an error naming every bad entry")
	}
	for _, frag := range []string{
		`provider bridge "bad/name"`,
		`vm 172.24.4.11/32 (vm2): bridge "br-other" is not one of this node's wired provider bridges`,
		"tenant-subnet 10.0.0.0/24 (net1): next hop 2001:db8::1 is not of the prefix's address family",
		`gateway 172.24.4.1/32 (gw1): gateway MAC "not-a-mac" is not an Ethernet address`,
		"vm 172.24.4.12/32 (vm3): VLAN 300 is not among the VLANs of provider bridge br-ex",
		"provider bridge br-gone has no kernel device yet",
		"load the 8021q module",
	} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error does not mention %q:\n%v", frag, err)
		}
	}
	var unsupported *UnsupportedLinkKindError
	if !errors.As(err, &unsupported) {
		t.Errorf("error does not wrap UnsupportedLinkKindError: %v", err)
	}
	// The good entry is wired all the same; nothing is added for the missing bridge.
	want := []string{
		"route 0.0.0.0/0 dev br-ex table 3000",
		"route 172.24.4.10/32 dev br-ex table 3000",
		"route ::/0 dev br-ex table 3000",
		"rule to 172.24.4.10/32 lookup 3000",
		"rule to 172.24.4.13/32 lookup 3001", // harmless: an empty table falls through to main
	}
	if diff := cmp.Diff(want, w.Installed()); diff != "" {
		t.Errorf("Installed (-want +got):\n%s", diff)
	}
}

func TestWiringWithoutIPv6(t *testing.T) {
	f := newFakeWiring("br-ex")
	f.noIPv6 = true
	w := newWirer(f, testWiringOpts, testLogger(t))
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}}, Exposures: []*exposure.Exposure{
		{Prefix: netip.MustParsePrefix("172.24.4.10/32"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: "br-ex"}},
		{Prefix: netip.MustParsePrefix("2001:db8::10/128"), Kind: exposure.KindVM, Wiring: exposure.Wiring{Bridge: "br-ex"}},
	}}
	for pass := 1; pass <= 2; pass++ {
		if _, err := w.SyncWiring(context.Background(), d); err != nil {
			t.Fatalf("pass %d: a host without IPv6 must not fail the pass: %v", pass, err)
		}
	}
	var v4 bool
	for _, c := range f.cmds {
		if strings.Contains(c, "ipv6") || strings.Contains(c, "::") {
			t.Errorf("asked a host without IPv6 for IPv6 state: %s", c)
		}
		v4 = v4 || strings.Contains(c, "172.24.4.10/32")
	}
	if !v4 {
		t.Errorf("the IPv4 exposure was not wired: %v", f.cmds)
	}
	if !w.IPv6Disabled() {
		t.Error("IPv6Disabled is false on a host without IPv6")
	}
}

func TestWiringOptionsValidated(t *testing.T) {
	for _, o := range []WiringOptions{
		{RulePriority: 0, RouteProtocol: 149, TableBase: 3000, TableCount: 256},
		{RulePriority: 2000, RouteProtocol: 4, TableBase: 3000, TableCount: 256},
		{RulePriority: 2000, RouteProtocol: 149, TableBase: 100, TableCount: 256},
		{RulePriority: 2000, RouteProtocol: 149, TableBase: 0xffffff01, TableCount: 256},
	} {
		if _, err := newWirer(newFakeWiring(), o, nil).SyncWiring(context.Background(), exposure.Desired{}); err == nil || !strings.Contains(err.Error(), "kernel.") {
			t.Errorf("%+v: got %v, want an error naming the kernel.* key", o, err)
		}
	}
}
