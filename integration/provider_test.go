package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

func TestProviderVMRouteReachesToR(t *testing.T) {
	t.Parallel()
	testProviderVMRoute(t, nbEngine)
}

func testProviderVMRoute(t *testing.T, eng engine) {
	l, ctx := startWithVMOn(t, eng)
	if got := routesFromCompute(t, ctx, l); len(got) != 1 || got[0] != "172.24.4.10/32" {
		t.Errorf("the ToR learned %v from the compute node, want only 172.24.4.10/32 (no link networks, no loopbacks)", got)
	}

	if _, err := l.NBCtl(ctx, "lsp-del", "vm1"); err != nil {
		t.Fatal(err)
	}
	waitNoRoute(t, ctx, l, "172.24.4.10/32")
	if a := nicAddrs(t, ctx, l); strings.Contains(a, "172.24.4.10") {
		t.Errorf("bgp-nic still has the deleted port's address: %s", a)
	}
}

func TestRemoteChassisPortNotExposed(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	if err := l.AddVMPort(ctx, lab.ProviderSwitch, "vm-remote", "fa:16:3e:22:22:22", "172.24.4.20"); err != nil {
		t.Fatal(err)
	}
	if err := l.BindRemote(ctx, "vm-remote", "compute-1", "172.30.0.11"); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	// A local VM added after the remote binding: once its route is at the ToR, the agent has
	// run a pass that saw the remote port too.
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRoute(t, ctx, l, "172.24.4.10/32")

	if ch, err := l.PortChassis(ctx, "vm-remote"); err != nil || ch != "compute-1" {
		t.Fatalf("vm-remote bound to %q (%v), want compute-1", ch, err)
	}
	if got := routesFromCompute(t, ctx, l); len(got) != 1 || got[0] != "172.24.4.10/32" {
		t.Errorf("the ToR learned %v from the compute node, want only the local VM's 172.24.4.10/32", got)
	}
	if a := nicAddrs(t, ctx, l); strings.Contains(a, "172.24.4.20") {
		t.Errorf("bgp-nic has the remote port's address: %s", a)
	}
}

func TestAgentRestartKeepsRoutes(t *testing.T) {
	t.Parallel()
	l, ctx := startWithVM(t)
	before := readTorState(t, ctx, l, tor, computeBGP, "172.24.4.10/32")

	// Record every address deletion in the compute namespace across the restart: the
	// kernel side of a withdrawal, however brief, shows up here.
	stopMon := ipMonitor(t, ctx, l, "address")

	if err := l.StopAgent(compute); err != nil {
		t.Fatal(err)
	}
	if a := nicAddrs(t, ctx, l); !strings.Contains(a, "172.24.4.10/32") {
		t.Fatalf("stopping the agent removed the address from bgp-nic: %s", a)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	// A second VM reaching the ToR proves the restarted agent has completed passes.
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:33:33:33", "172.24.4.30")
	waitRoute(t, ctx, l, "172.24.4.30/32")
	events := stopMon()

	if strings.Contains(events, "Deleted") {
		t.Errorf("addresses were deleted during the agent restart:\n%s", events)
	}
	if after := readTorState(t, ctx, l, tor, computeBGP, "172.24.4.10/32"); after != before {
		t.Errorf("the ToR saw 172.24.4.10/32 or the session flap across the restart (table version, session drops): %+v → %+v", before, after)
	}
}

// TestAgentStopsWhileOVNIsDown: SIGTERM ends the agent promptly and cleanly even while it is
// reconnecting to a database that went away, and leaves the exposed address in place.
func TestAgentStopsWhileOVNIsDown(t *testing.T) {
	t.Parallel()
	l, ctx := startWithVM(t)
	stopNB(t, ctx, l)
	start := time.Now()
	if err := l.StopAgent(compute); err != nil {
		t.Fatalf("the agent did not stop cleanly on SIGTERM while reconnecting: %v", err)
	}
	t.Logf("agent stopped %v after SIGTERM while reconnecting to NB", time.Since(start).Round(time.Millisecond))
	if a := nicAddrs(t, ctx, l); !strings.Contains(a, "172.24.4.10/32") {
		t.Errorf("stopping the agent removed the address: %s", a)
	}
}

// TestDriftRepairedDuringOVNOutage: with the NB database gone, passes keep applying the last
// known state, so an exposed address deleted by hand comes back and the ToR keeps the route.
func TestDriftRepairedDuringOVNOutage(t *testing.T) {
	t.Parallel()
	l, ctx := startWithVM(t)
	stopNB(t, ctx, l)
	// The deletion itself triggers the pass (netlink), which must not wait for OVN.
	if _, err := l.Exec(ctx, compute, "ip", "addr", "del", "172.24.4.10/32", "dev", "bgp-nic"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, 5*time.Second, "172.24.4.10 back on bgp-nic during the NB outage", func() (bool, error) {
		return strings.Contains(nicAddrs(t, ctx, l), "172.24.4.10/32"), nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog(compute, 30))
	}
	waitRoute(t, ctx, l, "172.24.4.10/32")
	if log := l.AgentLog(compute, 60); !strings.Contains(log, "passes keep applying its last known state") {
		t.Errorf("the agent did not say it ran on the last known NB state:\n%s", log)
	}
}

// stopNB stops the lab's NB ovsdb-server and waits until the agent has noticed.
func stopNB(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	if err := l.StopDaemon("ovsdb-server-nb"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, routeWait, "the agent to notice the NB database is gone", func() (bool, error) {
		return strings.Contains(l.AgentLog(compute, 40), "reconnect"), nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog(compute, 40))
	}
}
