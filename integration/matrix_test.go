package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// The version matrix: the default lab runs Debian 12's FRR 8.4 and OVN 23.03; these tests run
// parts of it from the Debian 13 root `make trixie-root` builds (FRR 10.3, OVN 25.03, OVS 3.5).
// The goldens on both FRR versions are internal/frr's TestFRRVersionMatrix.

// requireTrixie returns the Debian 13 root; without it the test skips, or fails with CI=true.
func requireTrixie(t *testing.T) string {
	t.Helper()
	root, err := lab.TrixieRoot()
	if err == nil {
		return root
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: failing instead of skipping)", err)
	}
	t.Skip(err.Error())
	return ""
}

// TestFRRVersionMatrix (live part): the agent drives FRR 10.3 on the compute node, with that
// version's vtysh and frr-reload.py, and a VM's /32 reaches the ToR (FRR 8.4). The agent's
// apply settles at once (no second reload, no "still differs"), and the restart watcher,
// which compares what FRR 10.3 prints, never takes it for a lost config.
func TestFRRVersionMatrix(t *testing.T) {
	t.Parallel()
	root := requireTrixie(t)
	l, ctx := startLabWith(t, lab.Options{Topology: topology, FRRRoots: map[string]string{compute: root}})
	requireVersion(t, ctx, l.Node(compute).FRR, "FRRouting 10.3")
	requireVersion(t, ctx, l.Node(tor).FRR, "FRRouting 8.4")
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitPrefix(t, ctx, l, tor, "172.24.4.10/32", computeBGP)
	if got := routesFromCompute(t, ctx, l); len(got) != 1 || got[0] != "172.24.4.10/32" {
		t.Errorf("the ToR learned %v from the compute node on FRR 10.3, want only 172.24.4.10/32", got)
	}
	log := l.AgentLog(compute, 400)
	if !strings.Contains(log, "FRR config applied") {
		t.Errorf("the agent never applied its FRR config:\n%s", log)
	}
	for _, churn := range []string{"reloading again", "still differs", "FRR lost the agent's config"} {
		if strings.Contains(log, churn) {
			t.Errorf("the agent's FRR apply did not settle on FRR 10.3 (%q):\n%s", churn, log)
		}
	}
}

// TestOVN2503Exposure: the provider VM exposure with OVN 25.03 (NB, SB, ovn-northd,
// ovn-controller) and OVS 3.5 from the Debian 13 root.
func TestOVN2503Exposure(t *testing.T) {
	t.Parallel()
	root := requireTrixie(t)
	l, ctx := startLabWith(t, lab.Options{Topology: topology, OVNRoot: root})
	for _, d := range []struct{ node, target, want string }{
		{"central", l.Node("central").Dir + "/northd.ctl", "ovn-northd 25.03"},
		{compute, "ovn-controller", "ovn-controller 25.03"},
		{compute, l.Node(compute).Dir + "/ovs-vswitchd.ctl", "ovs-vswitchd (Open vSwitch) 3.5"},
	} {
		prog := "ovn-appctl"
		if strings.Contains(d.target, "ovs-") {
			prog = "ovs-appctl"
		}
		out, err := l.OVNExec(ctx, d.node, prog, "-t", d.target, "version")
		if err != nil || !strings.Contains(out, d.want) {
			t.Fatalf("%s on %s: want %s, got %q (%v)", d.target, d.node, d.want, out, err)
		}
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitPrefix(t, ctx, l, tor, "172.24.4.10/32", computeBGP)
	if ch, err := l.PortChassis(ctx, "vm1"); err != nil || ch != "compute-0" {
		t.Fatalf("vm1 bound to %q (%v), want compute-0 (by ovn-controller 25.03)", ch, err)
	}
	if _, err := l.NBCtl(ctx, "lsp-del", "vm1"); err != nil {
		t.Fatal(err)
	}
	waitNoRoute(t, ctx, l, "172.24.4.10/32")

	// The router gateway on this chassis: OVN 25.03 reports where it is twice, in SB (the
	// cr-lrp binding, which the agent reads) and in NB (Logical_Router_Port
	// status:hosting-chassis). Both must agree, and the gateway's address reaches the ToR.
	if _, err := l.NBCtl(ctx, "lrp-set-gateway-chassis", "lrp-gw", "compute-0", "1"); err != nil {
		t.Fatal(err)
	}
	waitPrefix(t, ctx, l, tor, "172.24.4.1/32", computeBGP)
	if err := lab.Poll(ctx, convergeWait, "NB and SB to agree where the gateway is", func() (bool, error) {
		sb, err := l.PortChassis(ctx, "cr-lrp-gw")
		if err != nil {
			return false, err
		}
		nb, err := l.NBCtl(ctx, "--if-exists", "get", "logical_router_port", "lrp-gw", "status:hosting-chassis")
		nb = strings.Trim(strings.TrimSpace(nb), `"`)
		return sb == "compute-0" && nb == sb, fmt.Errorf("SB cr-lrp-gw on %q, NB hosting-chassis %q (%v)", sb, nb, err)
	}); err != nil {
		t.Fatal(err)
	}
}

func requireVersion(t *testing.T, ctx context.Context, f *lab.FRR, want string) {
	t.Helper()
	out, err := f.Vtysh(ctx, "show version")
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("FRR %s: want %s, show version says (%v):\n%s", f.Name, want, err, out)
	}
}
