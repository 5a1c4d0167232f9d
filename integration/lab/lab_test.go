package lab

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const topoFile = "../../deploy/containerlab/provider-vm.clab.yml"

func TestLoadTopology(t *testing.T) {
	topo, err := LoadTopology(topoFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(topo.NodeNames(), ","); got != "central,compute,tor" {
		t.Errorf("nodes %s", got)
	}
	links, _ := topo.Links()
	if len(links) != 2 {
		t.Errorf("links %v", links)
	}
	if src, ok := topo.Bind("tor", "/etc/frr/frr.conf"); !ok || !strings.HasSuffix(src, "provider-vm/tor-frr.conf") {
		t.Errorf("tor frr.conf bind: %q %v", src, ok)
	}

	bad := t.TempDir() + "/bad.clab.yml"
	os.WriteFile(bad, []byte("name: x\ntopology:\n  nodes:\n    a: {kind: linux, labels: {ovn-bgp-agent.role: spine}}\n"), 0o644)
	if _, err := LoadTopology(bad); err == nil || !strings.Contains(err.Error(), `got "spine"`) {
		t.Errorf("unknown role: want a clear error, got %v", err)
	}
	os.WriteFile(bad, []byte("name: x\ntopology:\n  nodes:\n    a: {kind: linux, labels: {ovn-bgp-agent.role: compute, ovn-bgp-agent.frr: nope}}\n"), 0o644)
	if _, err := LoadTopology(bad); err == nil || !strings.Contains(err.Error(), `ovn-bgp-agent.frr must be pod`) {
		t.Errorf("unknown frr label: want a clear error, got %v", err)
	}
	if _, err := LoadTopology("../../deploy/containerlab/networkers.clab.yml"); err != nil {
		t.Error(err)
	}
}

// TestLabStartsAndCleansUp brings the topology up with real OVN, OVS and FRR, checks that
// ovn-controller binds a plugged port, and that Close leaves no namespace, process or directory.
func TestLabStartsAndCleansUp(t *testing.T) {
	if os.Geteuid() != 0 || HaveFRR() != "" || HaveOVN() != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("lab cannot run (root: %v, missing FRR %q, OVN %q); CI=true", os.Geteuid() == 0, HaveFRR(), HaveOVN())
		}
		t.Skip("needs root and the frr, ovn-central, ovn-host, openvswitch-switch packages")
	}
	ctx := context.Background()
	l, err := Start(ctx, Options{Topology: topoFile, AgentBinary: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			l.Close()
		}
	})
	if err := l.SetupOpenStack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.AddVMPort(ctx, ProviderSwitch, "vm1", "fa:16:3e:11:11:11", "172.24.4.10"); err != nil {
		t.Fatal(err)
	}
	if err := l.PlugVM(ctx, "compute", "vm1"); err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, 20*time.Second, "vm1 bound to compute-0", func() (bool, error) {
		c, err := l.PortChassis(ctx, "vm1")
		return c == "compute-0", err
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.Logs())
	}

	var pids []int
	for _, p := range l.procs {
		pids = append(pids, p.Pid())
	}
	for _, n := range l.nodes {
		if n.FRR != nil {
			for _, p := range n.FRR.procs {
				pids = append(pids, p.Pid())
			}
		}
	}
	netns, dir := append([]string(nil), l.netns...), l.Dir
	closed = true
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + itoa(pid)); err == nil {
			t.Errorf("pid %d still running after Close", pid)
		}
	}
	for _, ns := range netns {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("netns %s still exists after Close", ns)
		}
	}
	if _, err := os.Stat(dir); err == nil && os.Getenv("OBGP_KEEP_LOGS") == "" {
		t.Errorf("work dir %s still exists after Close", dir)
	}
}

func TestCompareAdverts(t *testing.T) {
	want := Advert{"172.24.4.10/32": {"172.30.1.10"}, "172.24.4.20/32": {"172.30.1.10"}}
	got := Advert{"172.24.4.10/32": {"172.30.1.10", "172.30.9.9"}, "172.24.4.99/32": {"172.30.1.10"}}
	m := Compare(want, got)
	wantStale := []string{"172.24.4.10/32 via 172.30.9.9", "172.24.4.99/32 via 172.30.1.10"}
	if !slices.Equal(m.Stale, wantStale) || !slices.Equal(m.Missing, []string{"172.24.4.20/32 via 172.30.1.10"}) || m.OK() {
		t.Errorf("Compare = %+v", m)
	}
	if m := Compare(want, want); !m.OK() {
		t.Errorf("Compare(want, want) = %+v", m)
	}
}

func TestDaemonOptions(t *testing.T) {
	got, err := DaemonOptions("zebra=yes\n# zebra_options=\"-x\"\nzebra_options=\"  -A 127.0.0.1 -K 120\"\n" +
		"bgpd_options=(\"-A 127.0.0.1\")\nvtysh_enable=yes\n")
	if err != nil {
		t.Fatal(err)
	}
	if z, b := strings.Join(got["zebra"], " "), strings.Join(got["bgpd"], " "); z != "-A 127.0.0.1 -K 120" || b != "-A 127.0.0.1" || len(got) != 2 {
		t.Errorf("DaemonOptions = %q", got)
	}
	for _, bad := range []string{"zebra_options=-K 120\n", "zebra_options=\"-K $T\"\n"} {
		if _, err := DaemonOptions(bad); err == nil {
			t.Errorf("DaemonOptions(%q): no error", bad)
		}
	}
}
