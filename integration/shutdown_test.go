package integration

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// exitWithin is the acceptance bound of issue 13: SIGTERM ends the agent within 5 s in every
// state (a Kubernetes pod has 30 s by default, and a stuck agent blocks node drains).
const exitWithin = 5 * time.Second

// TestSIGTERMWithDependenciesGone: with each dependency gone while the agent runs, a pass is
// triggered (an exposed address deleted by hand) and SIGTERM is sent while that pass runs:
// the agent exits within 5 s, and cleanly. The databases are stopped (their clients then
// reconnect without end, and libovsdb's reads wait for the reconnect); FRR is frozen with
// SIGSTOP, the worst case for vtysh and frr-reload.py, which then wait for an answer.
func TestSIGTERMWithDependenciesGone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, ctx context.Context, l *lab.Lab)
	}{
		{"local-ovs", stopDaemon("ovsdb-server", "reconnect")},
		{"nb", stopDaemon("ovsdb-server-nb", "reconnect")},
		{"sb", stopDaemon("ovsdb-server-sb", "reconnect")},
		{"frr", func(t *testing.T, ctx context.Context, l *lab.Lab) {
			f := l.Node(compute).FRR
			if err := f.Freeze(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = f.Thaw() }) // before the lab stops it
			// The agent's FRR watcher reads a daemon's config (at the latest on its periodic
			// full check) and waits on the frozen daemon until vtysh times out: unknown, not
			// lost, and the agent is inside a vtysh call when it is told to stop.
			waitLog(t, ctx, l, "FRR daemon does not answer")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, ctx := startWithVM(t)
			tc.stop(t, ctx, l)
			// The deletion triggers a pass (netlink), which then meets the missing dependency.
			if _, err := l.Exec(ctx, compute, "ip", "addr", "del", "172.24.4.10/32", "dev", "bgp-nic"); err != nil {
				t.Fatal(err)
			}
			took, err := l.TermAgent(compute, exitWithin)
			t.Logf("%s gone: the agent exited %v after SIGTERM", tc.name, took.Round(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSIGTERMWhileConnecting: an agent starting while NB cannot be reached (every packet on
// the central link lost, so the TCP connect hangs rather than being refused) ends within
// 5 s of SIGTERM.
func TestSIGTERMWhileConnecting(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	if err := l.CutLink(ctx, "central", "eth1"); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	// Connected to the local OVS: the next dial is NB's, which hangs.
	waitLog(t, ctx, l, "db=OVS")
	took, err := l.TermAgent(compute, exitWithin)
	t.Logf("connecting to an unreachable NB: the agent exited %v after SIGTERM", took.Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
}

// stopDaemon stops the lab daemon name and waits until the agent's log shows seen.
func stopDaemon(name, seen string) func(t *testing.T, ctx context.Context, l *lab.Lab) {
	return func(t *testing.T, ctx context.Context, l *lab.Lab) {
		t.Helper()
		if err := l.StopDaemon(name); err != nil {
			t.Fatal(err)
		}
		waitLog(t, ctx, l, seen)
	}
}

// waitLog waits until the compute node's agent log has s in its last lines.
func waitLog(t *testing.T, ctx context.Context, l *lab.Lab, s string) {
	t.Helper()
	if err := lab.Poll(ctx, routeWait, "the agent log to say "+s, func() (bool, error) {
		return strings.Contains(l.AgentLog(compute, 60), s), nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog(compute, 40))
	}
}

// TestSlowFRRDoesNotDelayAddresses: with a frr-reload.py that hangs, a new VM's address
// still reaches bgp-nic within the usual time.
func TestSlowFRRDoesNotDelayAddresses(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	hang := t.TempDir() + "/frr-reload.py"
	// exec: the sleep is the process the agent started, killed with its process group.
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgentWith(ctx, compute, []string{"OVN_BGP_AGENT_FRR_RELOAD_COMMAND=" + hang}); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	if err := lab.Poll(ctx, 10*time.Second, "172.24.4.10 on bgp-nic while frr-reload.py hangs", func() (bool, error) {
		return strings.Contains(nicAddrs(t, ctx, l), "172.24.4.10/32"), nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog(compute, 30))
	}
}
