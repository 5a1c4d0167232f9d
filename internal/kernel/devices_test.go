//go:build privileged

package kernel

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // substring; "" means valid
	}{
		{name: "nic only", opts: Options{NIC: "bgp-nic"}},
		{name: "with vrf", opts: Options{NIC: "bgp-nic", VRF: "bgp-vrf", VRFTableID: 10}},
		// The rules are internal/config's (bgp.nic, bgp.vrf, bgp.vrf_table_id); these are the
		// guard's cases, which no loaded configuration reaches.
		{name: "empty nic", opts: Options{}, wantErr: `NIC "" is not a device name`},
		{name: "long nic", opts: Options{NIC: "a-very-long-nic-name"}, wantErr: "is not a device name"},
		{name: "vrf without table", opts: Options{NIC: "bgp-nic", VRF: "bgp-vrf"}, wantErr: "needs a table of its own, got 0"},
		{name: "vrf on main table", opts: Options{NIC: "bgp-nic", VRF: "bgp-vrf", VRFTableID: 254}, wantErr: "got 254"},
		{name: "vrf named like nic", opts: Options{NIC: "bgp-nic", VRF: "bgp-nic", VRFTableID: 10}, wantErr: "is the NIC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate: got %v, want an error containing %q", err, tt.wantErr)
			}
			if _, nerr := New(tt.opts, nil); nerr == nil {
				t.Fatal("New accepted invalid options")
			}
		})
	}
}

func TestUnsupportedLinkKindMessage(t *testing.T) {
	err := error(&UnsupportedLinkKindError{
		What: "bgp-nic", Kind: "dummy", Advice: "create bgp-nic yourself (any link kind) or load the module",
		Err: unix.EOPNOTSUPP,
	})
	want := `create bgp-nic: the kernel has no "dummy" link type (module dummy); ` +
		`create bgp-nic yourself (any link kind) or load the module: operation not supported`
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Error("the kernel's errno is not unwrapped")
	}
	for _, kernelErr := range []error{unix.EOPNOTSUPP, errors.New("operation not supported: Unknown device type")} {
		if !linkKindUnsupported(kernelErr) {
			t.Errorf("linkKindUnsupported(%q) = false", kernelErr)
		}
	}
	if linkKindUnsupported(unix.EPERM) {
		t.Error("EPERM taken for a missing link kind")
	}
}

func TestEnsureDevicesAdoptsExistingNIC(t *testing.T) {
	t.Parallel()
	ns, _, h := newNamedNetns(t)
	before := addBridge(t, h, "bgp-nic", false)
	plantAddr(t, h, "bgp-nic", "10.0.0.1/32")
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})

	for pass := 1; pass <= 2; pass++ {
		if err := a.EnsureDevices(context.Background()); err != nil {
			t.Fatalf("pass %d: EnsureDevices: %v", pass, err)
		}
		after := mustLink(t, h, "bgp-nic")
		if after.Attrs().Index != before.Attrs().Index || after.Type() != "bridge" {
			t.Fatalf("pass %d: bgp-nic recreated: was %s ifindex %d, now %s ifindex %d",
				pass, before.Type(), before.Attrs().Index, after.Type(), after.Attrs().Index)
		}
		if after.Attrs().Flags&net.FlagUp == 0 {
			t.Fatalf("pass %d: bgp-nic is not up", pass)
		}
	}
	got, err := a.Installed(context.Background())
	if err != nil || len(got) != 1 || got[0] != (HostAddr{Addr: netip.MustParseAddr("10.0.0.1")}) {
		t.Fatalf("Installed after adopting = %v, %v; want [10.0.0.1] (adopting must keep addresses)", got, err)
	}
}

func TestEnsureDevicesMissingNIC(t *testing.T) {
	t.Parallel()
	ns, _, h := newNamedNetns(t)
	dummy := kernelSupports(t, h, &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}})
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic"})
	err := a.EnsureDevices(context.Background())

	var unsupported *UnsupportedLinkKindError
	if !dummy {
		if !errors.As(err, &unsupported) || unsupported.Kind != "dummy" {
			t.Fatalf("EnsureDevices on a kernel without dummy: got %v, want an UnsupportedLinkKindError for dummy", err)
		}
		const want = `create bgp-nic: the kernel has no "dummy" link type (module dummy); create bgp-nic yourself (any link kind) or load the module`
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error message:\n got %s\nwant it to contain %s", err, want)
		}
		t.Logf("kernel without dummy: %v", err)
		if _, lerr := h.LinkByName("bgp-nic"); lerr == nil {
			t.Error("a failed EnsureDevices left a bgp-nic behind")
		}
		return
	}
	if err != nil {
		t.Fatalf("EnsureDevices on a kernel with dummy: %v", err)
	}
	link := mustLink(t, h, "bgp-nic")
	if link.Type() != "dummy" || link.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("bgp-nic is %s with flags %v, want an up dummy", link.Type(), link.Attrs().Flags)
	}
}

func TestEnsureDevicesVRF(t *testing.T) {
	t.Parallel()
	ns, _, h := newNamedNetns(t)
	vrf := kernelSupports(t, h, &netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, Table: 4242})
	nic := addBridge(t, h, "bgp-nic", false)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic", VRF: "bgp-vrf", VRFTableID: 1000})
	err := a.EnsureDevices(context.Background())

	if !vrf {
		var unsupported *UnsupportedLinkKindError
		if !errors.As(err, &unsupported) || unsupported.Kind != "vrf" {
			t.Fatalf("EnsureDevices with a VRF on a kernel without vrf: got %v, want an UnsupportedLinkKindError for vrf", err)
		}
		for _, want := range []string{`create VRF bgp-vrf: the kernel has no "vrf" link type (module vrf)`, `set bgp.vrf to ""`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error message %q does not contain %q", err, want)
			}
		}
		t.Logf("kernel without vrf: %v", err)
		if os.Getenv("OBGP_IN_VM") == "1" {
			t.Fatal("the VM tier's kernel must have the vrf module loaded: the VRF device path did not run")
		}
		t.Skip("this kernel has no vrf link type: the error is checked here; the VRF device path runs in the VM tier (integration/vm)")
	}
	for pass := 1; pass <= 2; pass++ {
		if pass == 2 {
			err = a.EnsureDevices(context.Background())
		}
		if err != nil {
			t.Fatalf("pass %d: EnsureDevices: %v", pass, err)
		}
		dev, ok := mustLink(t, h, "bgp-vrf").(*netlink.Vrf)
		if !ok || dev.Table != 1000 || dev.Attrs().Flags&net.FlagUp == 0 {
			t.Fatalf("pass %d: bgp-vrf = %+v, want an up vrf on table 1000", pass, dev)
		}
		got := mustLink(t, h, "bgp-nic")
		if got.Attrs().Index != nic.Attrs().Index || got.Attrs().MasterIndex != dev.Attrs().Index {
			t.Fatalf("pass %d: bgp-nic ifindex %d master %d, want ifindex %d enslaved to %d",
				pass, got.Attrs().Index, got.Attrs().MasterIndex, nic.Attrs().Index, dev.Attrs().Index)
		}
	}
	// With a VRF the local route lives in the VRF table and is left alone.
	if _, err := a.Sync(context.Background(), hosts(101, addrs("10.0.0.1"))); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got := localEntries(t, h, "bgp-nic", 1000); !strings.Contains(strings.Join(got, " "), "10.0.0.1/32") {
		t.Errorf("local entries in VRF table 1000 = %v, want 10.0.0.1/32 kept", got)
	}
}

func TestEnsureDevicesRejectsNonVRFDevice(t *testing.T) {
	t.Parallel()
	ns, _, h := newNamedNetns(t)
	addBridge(t, h, "bgp-nic", false)
	addBridge(t, h, "bgp-vrf", false)
	a := newApplierAt(t, ns, Options{NIC: "bgp-nic", VRF: "bgp-vrf", VRFTableID: 1000})
	err := a.EnsureDevices(context.Background())
	if err == nil || !strings.Contains(err.Error(), "VRF bgp-vrf: a device of that name exists but is a bridge, not a vrf") {
		t.Fatalf("EnsureDevices with a bridge named like the VRF: got %v", err)
	}
	if mustLink(t, h, "bgp-nic").Attrs().MasterIndex != 0 {
		t.Error("bgp-nic was enslaved to a device that is not a VRF")
	}
}
