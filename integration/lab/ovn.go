package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	nbSchema  = "/usr/share/ovn/ovn-nb.ovsschema"
	sbSchema  = "/usr/share/ovn/ovn-sb.ovsschema"
	ovsSchema = "/usr/share/openvswitch/vswitch.ovsschema"
)

// HaveOVN reports the first missing OVN/OVS program or schema, or "" when all are there.
func HaveOVN() string {
	for _, f := range []string{nbSchema, sbSchema, ovsSchema} {
		if _, err := os.Stat(f); err != nil {
			return f
		}
	}
	for _, b := range []string{"ovsdb-server", "ovsdb-tool", "ovs-vswitchd", "ovs-vsctl", "ovn-northd", "ovn-controller", "ovn-nbctl", "ovn-sbctl"} {
		if _, err := lookPath(b); err != nil {
			return b
		}
	}
	return ""
}

// startCentral runs the NB and SB ovsdb-servers and ovn-northd in the central node. The
// databases listen on a unix socket in the node's directory (for the lab's own nbctl/sbctl)
// and on TCP at the node's ovn-bgp-agent.listen address (for chassis and agents).
func (l *Lab) startCentral(ctx context.Context, n *Node) error {
	if n.Label(clusterLabel) != "" {
		return l.startClusteredCentral(ctx, n)
	}
	listen := n.topo.Labels["ovn-bgp-agent.listen"]
	if listen == "" {
		return fmt.Errorf("ovn-central node needs the label ovn-bgp-agent.listen")
	}
	// The listen address is configured by the exec lines, which run after the daemons:
	// bind the TCP remote to any address of the namespace, which only has this one.
	for _, db := range []struct{ name, schema, port string }{{"nb", nbSchema, "6641"}, {"sb", sbSchema, "6642"}} {
		file := filepath.Join(n.Dir, db.name+".db")
		if _, err := Run(ctx, "", nil, l.ovnCommand("ovsdb-tool", "create", file, db.schema)...); err != nil {
			return err
		}
		if err := l.startCentralDB(ctx, n, db.name); err != nil {
			return err
		}
	}
	if _, err := l.start(n, "ovn-northd", "ovn-northd", "--no-chdir",
		"--pidfile="+filepath.Join(n.Dir, "northd.pid"), "--unixctl="+filepath.Join(n.Dir, "northd.ctl"),
		"--ovnnb-db=unix:"+filepath.Join(n.Dir, "nb.sock"), "--ovnsb-db=unix:"+filepath.Join(n.Dir, "sb.sock")); err != nil {
		return err
	}
	l.logf("  %s: OVN NB/SB on %s:6641/6642, ovn-northd", n.Name, listen)
	return nil
}

// startCentralDB starts the ovsdb-server of the central's database db ("nb" or "sb") on its
// existing file, and waits for its unix socket.
func (l *Lab) startCentralDB(ctx context.Context, n *Node, db string) error {
	port := map[string]string{"nb": "6641", "sb": "6642"}[db]
	sock := filepath.Join(n.Dir, db+".sock")
	// A server killed hard leaves its socket behind; the new one must be seen to listen.
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		return err
	}
	p, err := l.start(n, "ovsdb-server-"+db, "ovsdb-server", "--no-chdir",
		"--pidfile="+filepath.Join(n.Dir, db+".pid"), "--unixctl="+filepath.Join(n.Dir, db+".ctl"),
		"--remote=punix:"+sock, "--remote=ptcp:"+port,
		"--log-file="+filepath.Join(n.Dir, "ovsdb-server-"+db+".file.log"), filepath.Join(n.Dir, db+".db"))
	if err != nil {
		return err
	}
	return waitForSocket(ctx, sock, p)
}

// startOVS runs the node's own ovsdb-server and ovs-vswitchd (userspace datapath: this kernel
// has no openvswitch module). The exec lines then create the bridges.
func (l *Lab) startOVS(ctx context.Context, n *Node) error {
	db := filepath.Join(n.Dir, "conf.db")
	if _, err := Run(ctx, "", nil, l.ovnCommand("ovsdb-tool", "create", db, ovsSchema)...); err != nil {
		return err
	}
	if err := l.startLocalOVSDB(ctx, n); err != nil {
		return err
	}
	if _, err := Run(ctx, n.Netns, n.Env, "ovs-vsctl", "--no-wait", "init"); err != nil {
		return err
	}
	if err := l.startVswitchd(n); err != nil {
		return err
	}
	l.logf("  %s: ovsdb-server and ovs-vswitchd (netdev)", n.Name)
	return nil
}

// startLocalOVSDB starts the node's own ovsdb-server on its existing conf.db.
func (l *Lab) startLocalOVSDB(ctx context.Context, n *Node) error {
	db := filepath.Join(n.Dir, "conf.db")
	sock := filepath.Join(n.Dir, "db.sock")
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		return err
	}
	p, err := l.start(n, "ovsdb-server", "ovsdb-server", "--no-chdir",
		"--pidfile="+filepath.Join(n.Dir, "ovsdb-server.pid"), "--unixctl="+filepath.Join(n.Dir, "ovsdb-server.ctl"),
		"--remote=punix:"+sock, "--remote=db:Open_vSwitch,Open_vSwitch,manager_options", db)
	if err != nil {
		return err
	}
	n.ovsdb = p
	return waitForSocket(ctx, sock, p)
}

func (l *Lab) startVswitchd(n *Node) error {
	p, err := l.start(n, "ovs-vswitchd", "ovs-vswitchd", "--no-chdir",
		"--pidfile="+filepath.Join(n.Dir, "ovs-vswitchd.pid"), "--unixctl="+filepath.Join(n.Dir, "ovs-vswitchd.ctl"),
		"unix:"+n.OVSSocket())
	if err != nil {
		return err
	}
	n.vswitchd = p
	return nil
}

// RestartVswitchd stops the node's ovs-vswitchd (by pid, SIGTERM) and starts a new one, as an
// upgrade or a crash would: the flows are gone, and with the userspace datapath so are the
// bridge devices and everything the kernel had on them.
func (l *Lab) RestartVswitchd(ctx context.Context, node string) error {
	n := l.nodes[node]
	if n == nil || n.vswitchd == nil {
		return fmt.Errorf("no ovs-vswitchd on %q", node)
	}
	if err := n.vswitchd.Stop(10 * time.Second); err != nil {
		return err
	}
	if err := l.startVswitchd(n); err != nil {
		return err
	}
	l.logf("  %s: ovs-vswitchd restarted (pid %d)", node, n.vswitchd.Pid())
	return nil
}

func (l *Lab) startOVNController(ctx context.Context, n *Node) error {
	// ovn-controller 23.03 has no --unixctl: OVN_RUNDIR in the node's env places its socket.
	p, err := l.start(n, "ovn-controller", "ovn-controller", "--no-chdir",
		"--pidfile="+filepath.Join(n.Dir, "ovn-controller.pid"), "unix:"+filepath.Join(n.Dir, "db.sock"))
	if err != nil {
		return err
	}
	n.ovnController = p
	// The chassis is usable once it has registered in SB.
	chassis, err := l.Exec(ctx, n.Name, "ovs-vsctl", "get", "open_vswitch", ".", "external_ids:system-id")
	if err != nil {
		return err
	}
	chassis = unquote(chassis)
	if err := Poll(ctx, 20*time.Second, "chassis "+chassis+" in SB", func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("ovn-controller exited: %s", p.LogTail(10))
		}
		out, err := l.SBCtl(ctx, "--bare", "--columns=name", "find", "chassis", "name="+chassis)
		return err == nil && unquote(out) == chassis, err
	}); err != nil {
		return err
	}
	l.logf("  %s: ovn-controller registered chassis %s", n.Name, chassis)
	return nil
}

// OVSSocket is the node's local OVS database socket.
func (n *Node) OVSSocket() string { return filepath.Join(n.Dir, "db.sock") }

func (l *Lab) centralDir() string {
	if c := l.NodeByRole("ovn-central"); c != nil {
		return c.Dir
	}
	return ""
}

// NBCtl runs ovn-nbctl against the lab's NB database (every member of a clustered one).
func (l *Lab) NBCtl(ctx context.Context, args ...string) (string, error) {
	if l.nbRaft != nil {
		return ctlClustered(ctx, l.nbRaft, "ovn-nbctl", args)
	}
	return Run(ctx, "", nil, l.ovnCommand(append([]string{"ovn-nbctl", "--db=unix:" + filepath.Join(l.centralDir(), "nb.sock")}, args...)...)...)
}

// SBCtl runs ovn-sbctl against the lab's SB database (every member of a clustered one).
func (l *Lab) SBCtl(ctx context.Context, args ...string) (string, error) {
	if l.sbRaft != nil {
		return ctlClustered(ctx, l.sbRaft, "ovn-sbctl", args)
	}
	return Run(ctx, "", nil, l.ovnCommand(append([]string{"ovn-sbctl", "--db=unix:" + filepath.Join(l.centralDir(), "sb.sock")}, args...)...)...)
}

// OVNExec runs an OVN/OVS program (ovs-vsctl, ovn-appctl, ...) in node's namespace with the
// node's environment, from OVNRoot when the lab has one.
func (l *Lab) OVNExec(ctx context.Context, node string, argv ...string) (string, error) {
	n := l.nodes[node]
	if n == nil {
		return "", fmt.Errorf("no node %q", node)
	}
	return Run(ctx, n.Netns, n.Env, l.ovnCommand(argv...)...)
}

// ovnCommand wraps argv to run from OVNRoot, with the lab's directory (databases, sockets)
// at the same path inside it.
func (l *Lab) ovnCommand(argv ...string) []string {
	return InRoot(l.opts.OVNRoot, []string{l.Dir}, argv...)
}

func unquote(s string) string { return strings.Trim(strings.TrimSpace(s), "\"") }

func lookPath(name string) (string, error) { return exec.LookPath(name) }
