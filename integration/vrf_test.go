package integration

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// The tests in this file need a kernel with the vrf, dummy and 8021q modules, which the
// development machines' kernel lacks. They run inside the VM tier (integration/vm boots
// Debian's own kernel and runs them there with OBGP_IN_VM=1); on the host they skip, and
// the host's TestVMTier fails if they did not pass in the VM.

const vrfTopology = "../deploy/containerlab/provider-vm-vrf.clab.yml"

// requireVMKernel skips outside the VM tier, which runs this test itself.
func requireVMKernel(t *testing.T) {
	t.Helper()
	if os.Getenv("OBGP_IN_VM") != "1" {
		t.Skip("needs the vrf, dummy and 8021q modules: runs inside the VM tier (go test ./integration/vm -run TestVMTier)")
	}
}

// startVRFWithVM starts the default-configuration lab and its agent, plugs vm1
// (172.24.4.10) and waits for its /32 at the ToR.
func startVRFWithVM(t *testing.T) (*lab.Lab, context.Context) {
	t.Helper()
	requireVMKernel(t)
	l, ctx := startLabFrom(t, vrfTopology)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRoute(t, ctx, l, "172.24.4.10/32")
	return l, ctx
}

// ipLink is the part of `ip -j -d link show` this file reads.
type ipLink struct {
	Index    int    `json:"ifindex"`
	Name     string `json:"ifname"`
	Master   string `json:"master"`
	Flags    []string
	LinkInfo struct {
		Kind string `json:"info_kind"`
		Data struct {
			Table    int `json:"table"`
			ID       int `json:"id"`
			Protocol string
		} `json:"info_data"`
	} `json:"linkinfo"`
}

func (l ipLink) up() bool {
	for _, f := range l.Flags {
		if f == "UP" {
			return true
		}
	}
	return false
}

// link reads one device of node with `ip -j -d link show`.
func link(t *testing.T, ctx context.Context, l *lab.Lab, node, dev string) ipLink {
	t.Helper()
	out, err := l.Exec(ctx, node, "ip", "-j", "-d", "link", "show", "dev", dev)
	if err != nil {
		t.Fatal(err)
	}
	var links []ipLink
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("parse ip -j link show %s: %v\n%s", dev, err, out)
	}
	return links[0]
}

// checkVRFDevices asserts the default configuration's devices: bgp-vrf, a vrf on table 10,
// and bgp-nic, a dummy enslaved to it, both up.
func checkVRFDevices(t *testing.T, ctx context.Context, l *lab.Lab) (vrf, nic ipLink) {
	t.Helper()
	vrf = link(t, ctx, l, compute, "bgp-vrf")
	if vrf.LinkInfo.Kind != "vrf" || vrf.LinkInfo.Data.Table != 10 || !vrf.up() {
		t.Errorf("bgp-vrf is %+v, want an up vrf on table 10", vrf)
	}
	nic = link(t, ctx, l, compute, "bgp-nic")
	if nic.LinkInfo.Kind != "dummy" || nic.Master != "bgp-vrf" || !nic.up() {
		t.Errorf("bgp-nic is %+v, want an up dummy enslaved to bgp-vrf", nic)
	}
	return vrf, nic
}

// TestVRFModeProviderVM runs the shipped default configuration end to end: the agent creates
// the VRF and the dummy, the address lands in the VRF, FRR's default instance imports it
// from the VRF and announces it to the ToR, and the ToR reaches the VM through the node.
func TestVRFModeProviderVM(t *testing.T) {
	t.Parallel()
	l, ctx := startVRFWithVM(t)
	checkVRFDevices(t, ctx, l)
	if a := nicAddrs(t, ctx, l); !strings.Contains(a, "172.24.4.10/32") {
		t.Errorf("bgp-nic lacks the VM's address: %s", a)
	}
	// The address is in the VRF only: the main table has no local route for it, table 10 has.
	if out, err := l.Exec(ctx, compute, "ip", "route", "show", "table", "10", "172.24.4.10"); err != nil || !strings.Contains(out, "bgp-nic") {
		t.Errorf("table 10 has no route for 172.24.4.10 on bgp-nic: %q %v", out, err)
	}
	f := l.Node(compute).FRR
	inVRF, err := f.Vtysh(ctx, "show bgp vrf bgp-vrf ipv4 unicast 172.24.4.10/32 json")
	if err != nil || !strings.Contains(inVRF, `"prefix":"172.24.4.10/32"`) {
		t.Errorf("the VRF's BGP instance lacks 172.24.4.10/32 (redistribute connected in bgp-vrf): %v\n%s", err, inVRF)
	}
	running, err := f.Vtysh(ctx, "show running-config bgpd")
	if err != nil || !strings.Contains(running, "import vrf bgp-vrf") {
		t.Errorf("bgpd does not run `import vrf bgp-vrf`: %v\n%s", err, running)
	}
	if got := routesFromCompute(t, ctx, l); len(got) != 1 || got[0] != "172.24.4.10/32" {
		t.Errorf("the ToR learned %v from the compute node, want only 172.24.4.10/32", got)
	}
	pingVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
}

// TestVRFModeRestartAdopts: a restarted agent finds the VRF and the dummy it made and keeps
// them (same devices, same ifindex), deletes no address, and the ToR sees no change.
func TestVRFModeRestartAdopts(t *testing.T) {
	t.Parallel()
	l, ctx := startVRFWithVM(t)
	vrfBefore, nicBefore := checkVRFDevices(t, ctx, l)
	before := readTorState(t, ctx, l, tor, computeBGP, "172.24.4.10/32")
	// Any deletion of a link or an address in the node across the restart shows up here.
	stopMon := ipMonitor(t, ctx, l, "link", "address")

	if err := l.StopAgent(compute); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	// A second VM at the ToR proves the restarted agent has completed passes.
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:33:33:33", "172.24.4.30")
	waitRoute(t, ctx, l, "172.24.4.30/32")
	events := stopMon()

	if strings.Contains(events, "Deleted") {
		t.Errorf("links or addresses were deleted across the agent restart:\n%s", events)
	}
	vrfAfter, nicAfter := checkVRFDevices(t, ctx, l)
	if vrfAfter.Index != vrfBefore.Index || nicAfter.Index != nicBefore.Index {
		t.Errorf("devices recreated across the restart: bgp-vrf ifindex %d → %d, bgp-nic %d → %d",
			vrfBefore.Index, vrfAfter.Index, nicBefore.Index, nicAfter.Index)
	}
	if after := readTorState(t, ctx, l, tor, computeBGP, "172.24.4.10/32"); after != before {
		t.Errorf("the ToR saw 172.24.4.10/32 or the session flap across the restart (table version, session drops): %+v → %+v", before, after)
	}
}

// TestVLANProviderNetwork: a VM on a VLAN provider network (localnet tag 100 on physnet1):
// the agent creates br-ex.100, routes the VM through it, and the ToR reaches the VM.
func TestVLANProviderNetwork(t *testing.T) {
	t.Parallel()
	requireVMKernel(t)
	l, ctx := startLabFrom(t, vrfTopology)
	if err := l.AddVLANProviderNetwork(ctx, "vlan100", lab.ProviderPhysnet, 100); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	if err := l.AddVMPort(ctx, "vlan100", "vmv", "fa:16:3e:44:44:44", "172.24.5.10"); err != nil {
		t.Fatal(err)
	}
	if err := l.PlugVM(ctx, compute, "vmv"); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, ctx, l, "172.24.5.10/32")

	if err := lab.Poll(ctx, routeWait, "br-ex.100 and the VM's route through it", func() (bool, error) {
		out, err := l.Exec(ctx, compute, "ip", "route", "show", "table", "all", "172.24.5.10")
		return err == nil && strings.Contains(out, "dev br-ex.100"), err
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog(compute, 30))
	}
	vlan := link(t, ctx, l, compute, "br-ex.100")
	if vlan.LinkInfo.Kind != "vlan" || vlan.LinkInfo.Data.ID != 100 || !vlan.up() {
		t.Errorf("br-ex.100 is %+v, want an up vlan device with id 100", vlan)
	}
	pingVM(t, ctx, l, "vmv", "fa:16:3e:44:44:44", "172.24.5.10")
}
