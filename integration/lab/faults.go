package lab

import (
	"context"
	"fmt"
	"time"
)

// Fault injectors: each breaks one real component the way an operator or a crash would.

// StopCentralDB stops the central's ovsdb-server for db ("nb" or "sb") by pid, SIGTERM.
func (l *Lab) StopCentralDB(db string) error {
	return l.StopDaemon("ovsdb-server-" + db)
}

// StartCentralDB starts a stopped central database again on its file: its data is kept.
func (l *Lab) StartCentralDB(ctx context.Context, db string) error {
	n := l.NodeByRole("ovn-central")
	if n == nil {
		return fmt.Errorf("no ovn-central node")
	}
	for _, p := range l.procs {
		if p.Name == "ovsdb-server-"+db && !p.Exited() {
			return fmt.Errorf("ovsdb-server-%s is still running", db)
		}
	}
	if err := l.startCentralDB(ctx, n, db); err != nil {
		return err
	}
	l.logf("  %s: ovsdb-server-%s started again", n.Name, db)
	return nil
}

// RestartLocalOVS stops the node's ovs-vswitchd and its local ovsdb-server (SIGTERM, by pid)
// and starts both again, as a package upgrade does: the database is kept, the flows and
// the userspace bridges' devices are gone until ovs-vswitchd recreates them.
func (l *Lab) RestartLocalOVS(ctx context.Context, node string) error {
	n := l.nodes[node]
	if n == nil || n.vswitchd == nil || n.ovsdb == nil {
		return fmt.Errorf("no local OVS on %q", node)
	}
	if err := n.vswitchd.Stop(10 * time.Second); err != nil {
		return err
	}
	if err := n.ovsdb.Stop(10 * time.Second); err != nil {
		return err
	}
	if err := l.startLocalOVSDB(ctx, n); err != nil {
		return err
	}
	if err := l.startVswitchd(n); err != nil {
		return err
	}
	l.logf("  %s: ovsdb-server and ovs-vswitchd restarted", node)
	return nil
}

// KillAgent kills the node's agent with SIGKILL and waits for it to be gone: no shutdown
// code runs. StartAgent starts it again.
func (l *Lab) KillAgent(node string) error {
	p := l.agents[node]
	if p == nil || p.Exited() {
		return fmt.Errorf("no agent running on %s", node)
	}
	return p.Kill()
}

// KillFRR kills every daemon of the node's FRR with SIGKILL, as a crashed or restarted FRR
// container does; RestartFRR starts them again with no config.
func (f *FRR) KillFRR() error {
	ds := f.daemons()
	for i := len(ds) - 1; i >= 0; i-- {
		if err := f.KillDaemon(ds[i]); err != nil {
			return err
		}
	}
	return nil
}

// RestartFRR starts the daemons again, zebra first, after KillFRR.
func (f *FRR) RestartFRR(ctx context.Context) error {
	for _, d := range f.daemons() {
		if err := f.RestartDaemon(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// KillOVNController kills the node's ovn-controller with SIGKILL, by pid, as a crash does:
// nothing of its exit runs, so its chassis and every port it claimed stay bound to it in SB,
// and the node's ovs-vswitchd keeps answering BFD on the tunnels it configured. (SIGTERM is
// no crash: ovn-controller 23.03 then releases its claims, a gateway's cr-lrp included.)
// RestartOVNController starts it again.
func (l *Lab) KillOVNController(node string) error {
	n := l.nodes[node]
	if n == nil || n.ovnController == nil || n.ovnController.Exited() {
		return fmt.Errorf("no ovn-controller running on %q", node)
	}
	return n.ovnController.Kill()
}

// RestartOVNController starts the node's ovn-controller again after KillOVNController; it
// finds its chassis in SB and takes it over.
func (l *Lab) RestartOVNController(ctx context.Context, node string) error {
	n := l.nodes[node]
	if n == nil || n.ovnController == nil {
		return fmt.Errorf("no ovn-controller on %q", node)
	}
	if !n.ovnController.Exited() {
		return fmt.Errorf("ovn-controller on %s is still running (pid %d)", node, n.ovnController.Pid())
	}
	return l.startOVNController(ctx, n)
}

// CutTunnels drops every Geneve packet (UDP 6081) to or from encapIP where the bridging node
// forwards it (the central of openstack.clab.yml and networkers.clab.yml bridges the nodes'
// management links), while everything else keeps flowing: the databases stay reachable. The
// netdev datapath sends and receives on raw sockets, past the node's own iptables, and this
// kernel has no tc classifiers, so the drop is an ebtables rule on the bridge. RestoreTunnels
// removes it; so does the namespace's deletion.
func (l *Lab) CutTunnels(ctx context.Context, bridgeNode, encapIP string) error {
	return l.tunnelRules(ctx, "-A", bridgeNode, encapIP)
}

// RestoreTunnels undoes CutTunnels.
func (l *Lab) RestoreTunnels(ctx context.Context, bridgeNode, encapIP string) error {
	return l.tunnelRules(ctx, "-D", bridgeNode, encapIP)
}

func (l *Lab) tunnelRules(ctx context.Context, op, bridgeNode, encapIP string) error {
	n := l.nodes[bridgeNode]
	if n == nil {
		return fmt.Errorf("no node %q", bridgeNode)
	}
	for _, dir := range []string{"--ip-src", "--ip-dst"} {
		if _, err := Run(ctx, n.Netns, nil, "ebtables", op, "FORWARD", "-p", "IPv4", dir, encapIP,
			"--ip-proto", "udp", "--ip-dport", "6081", "-j", "DROP"); err != nil {
			return fmt.Errorf("ebtables %s for the tunnels of %s at %s: %w", op, encapIP, bridgeNode, err)
		}
	}
	return nil
}
